"""A run's feed: one read of the log per commit, whatever the number of streams, handed on to each of them."""

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

import httpx
import pytest

from agentruns.events import feed
from agentruns.events.feed import FeedSeconds
from agentruns.events.hub import HUB, EventHub
from agentruns.events.stream import follow
from agentruns.events.streamed import StreamedEvent
from agentruns.schemas.events import EventDraft
from agentruns.storage.queries import events
from tests.support.factories import make_agent, make_run
from tests.support.portal import AsyncBridge

QUIET = FeedSeconds(poll=3600, keepalive=3600)
"""Neither a check nor a keep-alive during a test: every read is a ring's."""
WAIT = 30
"""How long a test waits, at most, for what must come (a loaded machine is slow, never this slow)."""


def _queued_run(client: httpx.Client) -> str:
    """A run that no worker runs: its log holds `run.status` (1), then what the test appends."""
    return make_run(client, make_agent(client)["id"])["id"]


class Reader:
    """A stream of the run, read in a task of its own into `seen` (keep-alives as empty batches)."""

    def __init__(self, stream: AsyncGenerator[Sequence[StreamedEvent]]) -> None:
        self.stream = stream
        self.batches: list[Sequence[StreamedEvent]] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for batch in self.stream:
            self.batches.append(batch)

    @property
    def seen(self) -> list[int | None]:
        return [event.id for batch in self.batches for event in batch]

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.stream.aclose()


async def _until(condition: Callable[[], bool]) -> None:
    """Return once `condition()` holds; it looks across many streams and tasks, so it is polled."""
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def _append(bridge: AsyncBridge, run_id: str, number: int) -> None:
    async with bridge.db.write() as session:
        await events.append(session, run_id, [EventDraft("x", {"n": number})])


def _counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the reads of new events, by feeds and replays alike, from now on."""
    reads: list[int] = []
    read = events.stored_after

    async def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return await read(*args, **kwargs)

    monkeypatch.setattr(events, "stored_after", counted)
    return reads


def test_one_read_per_commit_serves_every_stream(
    client: httpx.Client, bridge: AsyncBridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = _queued_run(client)

    async def scenario() -> tuple[list[list[int | None]], int]:
        readers = [Reader(follow(bridge.db, run_id, 0, seconds=QUIET, hub=HUB)) for _ in range(200)]
        await _until(lambda: all(reader.seen == [1] for reader in readers))
        reads = _counting_reads(monkeypatch)
        for number in range(2, 7):  # five commits, one event each, each awaited by every stream
            await _append(bridge, run_id, number)
            await _until(lambda number=number: all(len(reader.seen) == number for reader in readers))
        for reader in readers:
            await reader.stop()
        return [reader.seen for reader in readers], len(reads)

    seen, reads = bridge.call(scenario)
    assert all(numbers == [1, 2, 3, 4, 5, 6] for numbers in seen)
    assert reads == 5  # one read per commit, not per stream (that would be 1,000)


def test_a_check_finds_events_no_ring_announced(client: httpx.Client, bridge: AsyncBridge) -> None:
    run_id = _queued_run(client)
    deaf = EventHub()  # commits ring the process's hub, never this one: as for another process's on SQLite

    async def scenario() -> list[int | None]:
        reader = Reader(follow(bridge.db, run_id, 0, seconds=FeedSeconds(poll=0.05, keepalive=3600), hub=deaf))
        await _until(lambda: reader.seen == [1])
        await _append(bridge, run_id, 2)
        await _append(bridge, run_id, 3)
        await _until(lambda: len(reader.seen) == 3)
        await reader.stop()
        return reader.seen

    assert bridge.call(scenario) == [1, 2, 3]


def test_a_quiet_run_gets_keep_alives_from_its_feed(client: httpx.Client, bridge: AsyncBridge) -> None:
    run_id = _queued_run(client)

    async def scenario() -> list[Sequence[StreamedEvent]]:
        seconds = FeedSeconds(poll=3600, keepalive=0.05)
        readers = [Reader(follow(bridge.db, run_id, 0, seconds=seconds, hub=HUB)) for _ in range(3)]
        await _until(lambda: all(len(reader.batches) >= 3 for reader in readers))
        for reader in readers:
            await reader.stop()
        return [batch for reader in readers for batch in reader.batches[1:]]

    after_replay = bridge.call(scenario)
    assert after_replay and all(len(batch) == 0 for batch in after_replay)


def test_a_stream_that_fell_behind_reads_what_it_missed_from_the_log(
    client: httpx.Client, bridge: AsyncBridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed, "MAX_PENDING_BATCHES", 3)
    run_id = _queued_run(client)

    async def scenario() -> tuple[list[int | None], list[int | None]]:
        lagging = follow(bridge.db, run_id, 0, seconds=QUIET, hub=HUB)
        first = [event.id for event in await anext(lagging)]  # then it takes nothing for a while
        keeping_up = Reader(follow(bridge.db, run_id, 0, seconds=QUIET, hub=HUB))
        await _until(lambda: keeping_up.seen == [1])
        for number in range(2, 12):  # ten commits: the lagging stream's inbox overflows
            await _append(bridge, run_id, number)
            await _until(lambda number=number: len(keeping_up.seen) == number)
        caught_up = first
        while len(caught_up) < 11:
            async with asyncio.timeout(WAIT):
                caught_up += [event.id for event in await anext(lagging)]
        await lagging.aclose()
        await keeping_up.stop()
        return caught_up, keeping_up.seen

    caught_up, kept_up = bridge.call(scenario)
    assert caught_up == kept_up == list(range(1, 12))


def test_the_feed_ends_when_its_last_stream_leaves_and_a_new_stream_starts_another(
    client: httpx.Client, bridge: AsyncBridge
) -> None:
    run_id = _queued_run(client)

    def feeds_of_the_run() -> list[feed.Feed]:
        return [running for key, running in feed._feeds.items() if key[2] == run_id]

    async def scenario() -> tuple[int, int, list[int | None]]:
        readers = [Reader(follow(bridge.db, run_id, 0, seconds=QUIET, hub=HUB)) for _ in range(3)]
        await _until(lambda: all(reader.seen for reader in readers))
        (shared,) = feeds_of_the_run()
        for reader in readers:
            await reader.stop()
        await _until(shared._task.done)
        left = len(feeds_of_the_run())
        # A stream that comes later gets a new feed, which hands on what is appended from then on.
        late = Reader(follow(bridge.db, run_id, 0, seconds=QUIET, hub=HUB))
        await _until(lambda: late.seen == [1])
        await _append(bridge, run_id, 2)
        await _until(lambda: late.seen == [1, 2])
        renewed = len(feeds_of_the_run())
        await late.stop()
        return left, renewed, late.seen

    assert bridge.call(scenario) == (0, 1, [1, 2])
