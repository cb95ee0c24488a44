"""The per-organization request rate limit of one API process (the `limits` library's moving window)."""

import math
import time

import limits
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from agentruns.errors import RateLimited


class OrgRateLimit:
    """At most so many requests of one organization in any window (`1200/minute`), counted in this process."""

    def __init__(self, rate: str) -> None:
        self.item = limits.parse(rate)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def check(self, org_id: str) -> None:
        """Count one request of the organization, or refuse it with the seconds until one is allowed."""
        if await self.limiter.hit(self.item, org_id):
            return
        stats = await self.limiter.get_window_stats(self.item, org_id)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"over this organization's limit of {self.item}; retry in {retry_after} s",
            retry_after_seconds=retry_after,
        )
