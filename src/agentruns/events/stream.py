"""Follow a run's event log: replay the events after a given number, then the new ones, until the run ends.

A stream joins its run's feed (`events.feed`) first, so that every event stored from then on reaches its
inbox, then replays what the log holds after its position, then sends what the feed hands it. The replays
of one run in one process mostly want the same thing at the same moment (1,000 clients connecting with
the same `Last-Event-ID`), so they share reads: a stream joins a read of the same position that is under
way, if it started after the run's last ring, instead of starting its own.
"""

import asyncio
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from agentruns import clock
from agentruns.events.feed import FeedSeconds, joined
from agentruns.events.hub import HUB, EventHub
from agentruns.events.streamed import READ_BATCH, StreamedEvent, closing, made, stored
from agentruns.schemas import events as payloads
from agentruns.schemas.runs import RunStatus
from agentruns.storage.database import Database
from agentruns.storage.models import Run, run_view
from agentruns.storage.queries import events
from agentruns.storage.queries.events import TERMINAL_EVENTS

KEEP_READ_SECONDS = 1.0
"""How long a finished read of the log may serve streams that ask for the same events, if no ring came since."""


@dataclass(frozen=True, slots=True)
class _Read:
    """What one read of the log saw: the run, whether it has ended, the next events, and its last event's
    number and name when it has ended."""

    run: Run | None
    ended: bool
    batch: Sequence[StreamedEvent]
    final: tuple[int, str] | None


_Key = tuple[EventHub, Database, str, int]
_reads: dict[_Key, tuple[int, "asyncio.Task[_Read]"]] = {}
"""The reads under way, by hub, database, run and position, with `hub.ticks()` when each started."""


async def _read(db: Database, run_id: str, last: int) -> _Read:
    async with db.read() as session:
        # The status first: a run seen ended has its terminal event stored (same transaction).
        run = await session.scalar(select(Run).where(Run.id == run_id))
        ended = run is None or RunStatus(run.status).is_terminal
        batch = await events.stored_after(session, run_id, last, limit=READ_BATCH)
        final = await events.last(session, run_id) if ended else None
    return _Read(run, ended, [stored(run_id, row) for row in batch], None if final is None else (final.seq, final.name))


def _done(key: _Key, task: "asyncio.Task[_Read]") -> None:
    if not task.cancelled() and task.exception() is None:
        # Kept a while for the streams that a ring woke but that run only after the read ended: with
        # 1,000 streams that is most of them, and each would otherwise start a read of its own.
        task.get_loop().call_later(KEEP_READ_SECONDS, _forget, key, task)
    else:  # the exception is retrieved, so that a failed read no stream awaits any more is not logged
        _forget(key, task)


def _forget(key: _Key, task: "asyncio.Task[_Read]") -> None:
    if _reads.get(key, (0, None))[1] is task:
        del _reads[key]


async def _shared_read(db: Database, run_id: str, last: int, fresh_from: int, hub: EventHub) -> _Read:
    """The events after `last`, from a read that started at `hub.ticks() >= fresh_from`: one under way, or
    a new one. The read runs as a task of its own, so a stream that leaves does not cut it short for others."""
    key = (hub, db, run_id, last)
    loop = asyncio.get_running_loop()
    under_way = _reads.get(key)
    if under_way is not None and under_way[0] >= fresh_from and under_way[1].get_loop() is loop:
        task = under_way[1]
    else:
        started = hub.ticks()
        task = loop.create_task(_read(db, run_id, last), name=f"agentruns-events-read-{run_id}")
        _reads[key] = (started, task)
        task.add_done_callback(lambda done: _done(key, done))
    return await asyncio.shield(task)


def _after(batch: Sequence[StreamedEvent], last: int) -> Sequence[StreamedEvent]:
    """The events of `batch` numbered above `last` (a replay and the feed may both have read some)."""
    if not batch or (batch[0].id or 0) > last:
        return batch
    return [event for event in batch if (event.id or 0) > last]


def _to_end(batch: Sequence[StreamedEvent], run_id: str) -> tuple[Sequence[StreamedEvent], bool]:
    """The batch up to its terminal event and `close`, and whether it had one."""
    for position, event in enumerate(batch):
        if event.name in TERMINAL_EVENTS:
            return [*batch[: position + 1], closing(run_id)], True
    return batch, False


def _said_end(read: _Read, run_id: str, last: int) -> list[StreamedEvent]:
    """`close`, after the run's status event if it ended before the event log existed (no terminal event)."""
    final, run = read.final, read.run
    unsaid = final is None or final[1] not in TERMINAL_EVENTS
    seq = (final[0] if final is not None else 0) + 1
    if run is None or not unsaid or seq <= last:
        return [closing(run_id)]
    status = payloads.status_changed(run_view(run), clock.now())
    return [made(run_id, seq, status.name, status.data, run.completed_at or clock.now()), closing(run_id)]


async def follow(
    db: Database, run_id: str, after: int, *, seconds: FeedSeconds, hub: EventHub = HUB
) -> AsyncGenerator[Sequence[StreamedEvent]]:
    """The run's events numbered above `after`, then each new one as it is stored; after the terminal
    event, a `close` event and the end. They come in batches, as read (up to READ_BATCH at a time when
    replaying), so that a replay is sent in few writes; an empty batch is a keep-alive (see `events.feed`,
    which also says what `seconds` are)."""
    last = after
    with joined(db, run_id, seconds, hub) as (feed, inbox):
        await feed.started()
        while True:
            # Replay what the log holds: at first, and again whenever the stream fell behind its feed.
            while True:
                read = await _shared_read(db, run_id, last, hub.last_ring(run_id), hub)
                batch, ended = _to_end(_after(read.batch, last), run_id)
                if batch:
                    yield batch
                    last = batch[-1].id or last
                if ended:
                    return
                if len(read.batch) < READ_BATCH:
                    break
            if read.ended:
                yield _said_end(read, run_id, last)
                return
            # Then what the feed hands on: every event stored since the stream joined it.
            while (batches := await inbox.take()) is not None:
                for handed in batches:
                    if not handed:
                        yield handed  # nothing came for a while: the feed's keep-alive
                        continue
                    batch, ended = _to_end(_after(handed, last), run_id)
                    if batch:
                        yield batch
                        last = batch[-1].id or last
                    if ended:
                        return
