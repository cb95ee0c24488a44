"""Follow a run's event log: replay the events after a given number, then the new ones, until the run ends.

The streams of one run in one process mostly want the same thing at the same moment (the events after the
one they all sent last, once a commit rings them), so they share reads: a stream joins a read of the same
position that is under way, if it started after the run's last ring, instead of starting its own. And
they share the re-read that finds events no notification announced: one check of the run's last event
number every `poll_seconds` per run and process, which rings the run's streams when it grew. A thousand
subscribers of a run then cost one read per event, not a thousand, nothing while the run is quiet, and
each event's JSON is built once.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from agentruns import clock
from agentruns.events import payloads
from agentruns.events.hub import HUB, EventHub
from agentruns.schemas.runs import RunStatus
from agentruns.storage.database import Database
from agentruns.storage.models import Run
from agentruns.storage.queries import events
from agentruns.storage.queries.events import TERMINAL_EVENTS

READ_BATCH = 500
KEEP_READ_SECONDS = 1.0
"""How long a finished read of the log may serve streams that ask for the same events, if no ring came since."""
CLOSE = "close"

log = logging.getLogger("agentruns.events")


@dataclass(frozen=True, slots=True)
class StreamedEvent:
    """One event as the stream sends it: its number (none for `close`), its name and its payload as one line
    of JSON, made once however many streams send it."""

    id: int | None
    name: str
    text: str


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _header(run_id: str, seq: int, name: str, at: datetime) -> dict[str, Any]:
    return {"type": name, "runId": run_id, "sequence": seq, "timestamp": _iso(at)}


def _streamed(run_id: str, seq: int, name: str, data: dict[str, Any], at: datetime) -> StreamedEvent:
    return StreamedEvent(seq, name, json.dumps(_header(run_id, seq, name, at) | data, separators=(",", ":")))


def _stored(run_id: str, row: events.StoredEvent) -> StreamedEvent:
    """A stored event, its payload's stored JSON spliced after the header rather than decoded and encoded
    again (a third of a replay's time). A key in both is the payload's, as JSON readers take the last one."""
    head = json.dumps(_header(run_id, row.seq, row.name, row.created_at), separators=(",", ":"))
    body = row.data_json.strip()  # an object: events are appended with a dict (`EventDraft.data`)
    return StreamedEvent(row.seq, row.name, head if body[1:].lstrip() == "}" else f"{head[:-1]},{body[1:]}")


def _closing(run_id: str) -> StreamedEvent:
    return StreamedEvent(None, CLOSE, json.dumps({"type": CLOSE, "runId": run_id}, separators=(",", ":")))


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
    return _Read(
        run, ended, [_stored(run_id, row) for row in batch], None if final is None else (final.seq, final.name)
    )


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


_PollerKey = tuple[EventHub, Database, str, asyncio.AbstractEventLoop]
_pollers: dict[_PollerKey, tuple[int, "asyncio.Task[None]"]] = {}
"""The checks under way, by hub, database, run and event loop, with how many streams rely on each."""


async def _last_number(db: Database, run_id: str) -> int:
    async with db.read() as session:
        last = await events.last(session, run_id)
    return 0 if last is None else last.seq


async def _poll(db: Database, run_id: str, seconds: float, hub: EventHub) -> None:
    """Ring the run's streams whenever its last event number changed since the check before (and at once)."""
    seen: int | None = None
    while True:
        try:
            # Shielded: the last stream's exit cancels the check, which must not cut a transaction short.
            number = await asyncio.shield(_last_number(db, run_id))
            if number != seen:
                seen = number
                hub.publish(run_id)
        except Exception as exc:  # the next check tries again; meanwhile notifications still wake the streams
            log.warning("checking run %s for new events failed: %s", run_id, exc)
        await asyncio.sleep(seconds)


@contextmanager
def _checked(db: Database, run_id: str, seconds: float, hub: EventHub) -> Generator[None]:
    """Keep the run's log checked every `seconds` in this event loop while the block runs."""
    loop = asyncio.get_running_loop()
    key = (hub, db, run_id, loop)
    streams, task = _pollers.get(key, (0, None))
    if task is None or task.done():
        task = loop.create_task(_poll(db, run_id, seconds, hub), name=f"agentruns-events-check-{run_id}")
    _pollers[key] = (streams + 1, task)
    try:
        yield
    finally:
        streams, task = _pollers[key]
        if streams > 1:
            _pollers[key] = (streams - 1, task)
        else:
            del _pollers[key]
            task.cancel()


async def follow(
    db: Database, run_id: str, after: int, *, poll_seconds: float, hub: EventHub = HUB
) -> AsyncIterator[list[StreamedEvent]]:
    """The run's events numbered above `after`, then each new one as it is stored; after the terminal
    event, a `close` event and the end. They come in batches, as read (up to READ_BATCH at a time when
    replaying), so that a replay is sent in few writes. Waits on the hub, which the run's check (`_poll`)
    also rings when it finds events that no notification announced, within `poll_seconds`."""
    last = after
    with hub.subscribe(run_id) as waiter, _checked(db, run_id, poll_seconds, hub):
        while True:
            waiter.reset()
            read = await _shared_read(db, run_id, last, hub.last_ring(run_id), hub)
            run, ended, batch, final = read.run, read.ended, read.batch, read.final
            for position, event in enumerate(batch):
                if event.name in TERMINAL_EVENTS:
                    yield [*batch[: position + 1], _closing(run_id)]
                    return
            if batch:
                yield list(batch)
                last = batch[-1].id or last
            if len(batch) == READ_BATCH:
                continue
            if ended:
                # Only a run that ended before the event log existed has no terminal event: say how it ended.
                unsaid = final is None or final[1] not in TERMINAL_EVENTS
                seq = (final[0] if final is not None else 0) + 1
                ending: list[StreamedEvent] = []
                if run is not None and unsaid and seq > last:
                    status = payloads.status_changed(run, clock.now())
                    ending.append(_streamed(run_id, seq, status.name, status.data, run.completed_at or clock.now()))
                yield [*ending, _closing(run_id)]
                return
            await waiter.wait(None)
