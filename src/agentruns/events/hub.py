"""Wake this process's event streams when a run's log grows, from any thread or event loop.

Writers of this process wake the hub when their transaction commits (through `storage.commits`);
on PostgreSQL the notification listener (`events.listener`) wakes it for events other processes wrote.
"""

import asyncio
import contextlib
import threading
from collections.abc import Generator, Iterable
from contextlib import contextmanager

from agentruns.storage import commits


class Waiter:
    """One stream's doorbell: rung by the hub, awaited by the stream on its own event loop."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._rung = asyncio.Event()

    def ring(self) -> None:
        """Wake the stream (thread-safe)."""
        Waiter.ring_all([self])

    @staticmethod
    def ring_all(waiters: Iterable["Waiter"]) -> None:
        """Wake the streams (thread-safe): one call into each event loop, which wakes its streams together,
        rather than one per stream (each is a write to the loop's self-pipe: a thousand streams add up)."""
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Event]] = {}
        for waiter in waiters:
            by_loop.setdefault(waiter._loop, []).append(waiter._rung)
        for loop, doorbells in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: its streams are gone, nobody to wake
                loop.call_soon_threadsafe(_set_all, doorbells)

    def reset(self) -> None:
        """Forget earlier rings; call it before reading the log, so a ring during the read is kept."""
        self._rung.clear()

    @property
    def rung(self) -> bool:
        """Whether it was rung since the last `reset`."""
        return self._rung.is_set()

    async def wait(self, seconds: float | None) -> bool:
        """Return when rung (True), or after `seconds` (False; None: only when rung)."""
        try:
            async with asyncio.timeout(seconds):
                await self._rung.wait()
        except TimeoutError:
            return False
        return True


def _set_all(doorbells: list[asyncio.Event]) -> None:
    for doorbell in doorbells:
        doorbell.set()


class EventHub:
    """The streams of this process, by run, and a count of the rings: the reads of a run's log that start
    after its last ring (`ticks() >= last_ring(run)`) see every event announced so far."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[Waiter]] = {}
        self._deliveries: set[Waiter] = set()
        self._ticks = 0
        self._last_ring: dict[str, int] = {}

    @contextmanager
    def subscribe(self, run_id: str) -> Generator[Waiter]:
        """A waiter rung whenever the run's log may have grown, until the block ends."""
        waiter = Waiter()
        with self._lock:
            self._waiters.setdefault(run_id, set()).add(waiter)
            self._tick(run_id)  # a new stream reads what is stored now, not what a read begun earlier saw
        try:
            yield waiter
        finally:
            with self._lock:
                waiters = self._waiters.get(run_id)
                if waiters is not None:
                    waiters.discard(waiter)
                    if not waiters:
                        del self._waiters[run_id]
                        del self._last_ring[run_id]

    @contextmanager
    def subscribe_deliveries(self) -> Generator[Waiter]:
        """A waiter rung whenever a transaction of this process that scheduled webhook deliveries commits, until
        the block ends (the webhook sender's)."""
        waiter = Waiter()
        with self._lock:
            self._deliveries.add(waiter)
        try:
            yield waiter
        finally:
            with self._lock:
                self._deliveries.discard(waiter)

    def publish(self, run_id: str) -> None:
        """The run's log may have grown: wake its streams."""
        with self._lock:
            waiters = list(self._waiters.get(run_id, ()))
            if waiters:
                self._tick(run_id)
        Waiter.ring_all(waiters)

    def deliveries_scheduled(self) -> None:
        """Webhook deliveries were scheduled: wake the webhook sender."""
        with self._lock:
            waiters = list(self._deliveries)
        Waiter.ring_all(waiters)

    def publish_all(self) -> None:
        """Wake every stream (after notifications may have been missed)."""
        with self._lock:
            waiters = [waiter for group in self._waiters.values() for waiter in group]
            for run_id in self._waiters:
                self._tick(run_id)
        Waiter.ring_all(waiters)

    def ticks(self) -> int:
        """How many times a run was rung or subscribed to so far, in this process."""
        with self._lock:
            return self._ticks

    def last_ring(self, run_id: str) -> int:
        """`ticks()` just after the run was last rung or subscribed to."""
        with self._lock:
            return self._last_ring.get(run_id, 0)

    def _tick(self, run_id: str) -> None:
        self._ticks += 1
        self._last_ring[run_id] = self._ticks


HUB = EventHub()
"""The hub of this process: every stream waits on it, every writer and listener of the process rings it."""
commits.listen(HUB)  # storage's writers ring it through `storage.commits`
