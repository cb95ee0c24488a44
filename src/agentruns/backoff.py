"""Exponential backoff with jitter: how long to wait before trying again what failed."""

import math
import random
from dataclasses import dataclass

_MAX_DOUBLINGS = 64
"""The exponent stops growing here, so that a long outage never overflows a float (the cap comes far sooner)."""


@dataclass(frozen=True)
class Backoff:
    """Delays that start at `first` seconds and double after each failure up to `cap`, each one scaled by a
    random factor drawn from `jitter`, so that clients that failed together do not try again together.

    Attributes:
        first: the delay after the first failure, before jitter (0: no wait at all).
        cap: the longest delay before jitter (none by default).
        jitter: the bounds of the random factor every delay is multiplied by.
    """

    first: float
    cap: float = math.inf
    jitter: tuple[float, float] = (0.5, 1.5)

    def after(self, failures: int) -> float:
        """Seconds to wait after `failures` failures in a row (1 for the first): `first` × 2^(failures - 1),
        at most `cap`, times a factor between the `jitter` bounds."""
        doublings = min(max(failures - 1, 0), _MAX_DOUBLINGS)
        return min(self.first * 2.0**doublings, self.cap) * random.uniform(*self.jitter)
