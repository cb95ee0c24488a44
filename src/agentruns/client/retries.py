"""When to retry a request and how long to wait first: 408, 429 and 5xx, honouring `Retry-After`."""

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from agentruns.backoff import Backoff

RETRIED_STATUSES = frozenset({408, 429})
RETRIED_TRANSPORT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
"""Failures of the connection itself that a new attempt may not meet; a malformed URL is not one."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often to retry and how long to wait; a server's `Retry-After` overrides the backoff.

    Attributes:
        max_retries: retries after the first attempt (0 turns retrying off).
        initial_delay: seconds before the first retry when the server names no delay; doubles each time.
        max_delay: the longest backoff in seconds.
        max_retry_after: the longest server-named delay obeyed; a longer one falls back to the backoff.
        max_reconnects: connections in a row an event stream may open without receiving a new event
            (dropped, refused or failed) before `stream()` gives up.
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    max_reconnects: int = 10

    def backoff(self, attempt: int) -> float:
        """The delay before retry number `attempt + 1`, with jitter so that clients do not retry in step."""
        # Up to a quarter shorter, never longer: `max_delay` stays the longest wait.
        return Backoff(first=self.initial_delay, cap=self.max_delay, jitter=(0.75, 1.0)).after(attempt + 1)

    def should_retry(self, response: httpx.Response) -> bool:
        """Whether the answer is worth another attempt; `x-should-retry` decides when the server sends it."""
        verdict = response.headers.get("x-should-retry", "").strip().lower()
        if verdict in ("true", "false"):
            return verdict == "true"
        return response.status_code in RETRIED_STATUSES or response.status_code >= 500

    def delay_after(self, attempt: int, response: httpx.Response | None, *, budget: int | None = None) -> float | None:
        """Seconds to wait before retrying attempt number `attempt` (from 0), or None to give up.

        Args:
            attempt: how many attempts failed before this one.
            response: the error answer, or None when the connection failed.
            budget: how many retries are allowed; `max_retries` unless given.
        """
        if attempt >= (self.max_retries if budget is None else budget):
            return None
        if response is None:
            return self.backoff(attempt)
        if not self.should_retry(response):
            return None
        named = retry_after(response)
        if named is not None and 0 <= named <= self.max_retry_after:
            return named
        return self.backoff(attempt)


def retry_after(response: httpx.Response) -> float | None:
    """The delay the server asks for: `retry-after-ms`, else `Retry-After` in seconds or as an HTTP date."""
    milliseconds = response.headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return float(milliseconds) / 1000
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
