"""One run's new events, read once per commit and handed to every stream of the run in this process.

A feed lives while streams of its run (on one database and event loop) follow it. Its task waits on the
hub, which a commit of this process or a notification from another process rings when the run's log grew;
it also checks the log every `poll` seconds, for events no notification announced (on SQLite, the only way
to learn of another process's). What each read finds goes, as one batch shared by all, into every stream's
inbox: a thousand subscribers of a run cost one read per commit and one wake-up each, not a read each.
When nothing came for `keepalive` seconds, the feed hands on an empty batch, which streams send as a
keep-alive comment: no stream needs a timer of its own.
"""

import asyncio
import logging
import time
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from agentruns.events.hub import EventHub, Waiter
from agentruns.events.streamed import READ_BATCH, StreamedEvent, stored
from agentruns.storage.database import Database
from agentruns.storage.queries import events

MAX_PENDING_BATCHES = 256
"""Batches an inbox keeps for a stream that sends slower than its run writes; beyond, they are dropped and
the stream reads what it missed from the log (a client cannot make the server hold its backlog)."""

log = logging.getLogger("agentruns.events")

Batch = Sequence[StreamedEvent]


class Inbox:
    """The batches the feed handed one stream that the stream has not taken yet."""

    __slots__ = ("_batches", "_overflowed", "_waiting")

    def __init__(self) -> None:
        self._batches: list[Batch] = []
        self._overflowed = False
        self._waiting: asyncio.Future[None] | None = None

    def put(self, batch: Batch) -> None:
        """Keep a batch for the stream and wake it."""
        if len(self._batches) < MAX_PENDING_BATCHES:
            self._batches.append(batch)
        else:
            self._batches.clear()
            self._overflowed = True
        waiting = self._waiting
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    async def take(self) -> list[Batch] | None:
        """The batches handed since the last take, once there is one; None if some were dropped since (the
        stream then reads the log from its last event, and the batches handed later come here as before)."""
        while not self._batches and not self._overflowed:
            self._waiting = asyncio.get_running_loop().create_future()
            try:
                await self._waiting
            finally:
                self._waiting = None
        if self._overflowed:
            self._overflowed = False
            return None
        batches, self._batches = self._batches, []
        return batches


@dataclass(frozen=True, slots=True)
class FeedSeconds:
    """How often a feed checks the log for events no ring announced, and how long it stays silent at most."""

    poll: float
    keepalive: float


class Feed:
    """A task that reads the run's new events and hands them to the inboxes of its streams."""

    def __init__(self, db: Database, run_id: str, seconds: FeedSeconds, hub: EventHub) -> None:
        self.inboxes: set[Inbox] = set()
        self._db = db
        self._run_id = run_id
        self._seconds = seconds
        self._hub = hub
        self._handed_at = time.monotonic()
        self._position = 0
        self._closing = False
        self._waiter: Waiter | None = None
        loop = asyncio.get_running_loop()
        self._started: asyncio.Future[None] = loop.create_future()
        self._task = loop.create_task(self._follow(), name=f"agentruns-events-feed-{run_id}")

    async def started(self) -> None:
        """Return once the feed knows the run's last stored event: each later one reaches every inbox."""
        await asyncio.shield(self._started)

    def close(self) -> None:
        """End the feed after the read under way, if any (never cut short: it holds a transaction)."""
        self._closing = True
        if self._waiter is not None:
            self._waiter.ring()

    async def _follow(self) -> None:
        with self._hub.subscribe(self._run_id) as waiter:
            self._waiter = waiter
            announced = True
            while not self._closing:
                waiter.reset()
                try:
                    await self._read(announced)
                except Exception as exc:  # the next ring or check tries again
                    log.warning("reading run %s's new events failed: %s", self._run_id, exc)
                if not self._closing:
                    silent = time.monotonic() - self._handed_at
                    announced = await waiter.wait(max(min(self._seconds.poll, self._seconds.keepalive - silent), 0))

    async def _read(self, announced: bool) -> None:
        """Hand on the events stored after the last one handed on (at first, only learn which that is).

        Events that no ring announced (a check found them) are announced now, before they are handed on:
        a replay read is shared only if it started after the run's last ring (`stream._shared_read`), so a
        stream that joins later never takes a read older than what the feed handed on before it joined.
        """
        if not self._started.done():
            async with self._db.read() as session:
                last = await events.last(session, self._run_id)
            self._position = 0 if last is None else last.seq
            self._started.set_result(None)
            return
        while True:
            async with self._db.read() as session:
                rows = await events.stored_after(session, self._run_id, self._position, limit=READ_BATCH)
            if rows:
                if not announced:
                    self._hub.publish(self._run_id)
                    announced = True
                self._hand_on([stored(self._run_id, row) for row in rows])
                self._position = rows[-1].seq
            if len(rows) < READ_BATCH:
                break
        if rows or time.monotonic() - self._handed_at >= self._seconds.keepalive:
            if not rows:
                self._hand_on([])  # a keep-alive
            self._handed_at = time.monotonic()

    def _hand_on(self, batch: Batch) -> None:
        for inbox in self.inboxes:
            inbox.put(batch)


_FeedKey = tuple[EventHub, Database, str, asyncio.AbstractEventLoop]
_feeds: dict[_FeedKey, Feed] = {}


@contextmanager
def joined(db: Database, run_id: str, seconds: FeedSeconds, hub: EventHub) -> Generator[tuple[Feed, Inbox]]:
    """An inbox in the run's feed of this event loop until the block ends; a feed is started, with these
    `seconds`, if there is none (the streams of one process share its settings)."""
    key = (hub, db, run_id, asyncio.get_running_loop())
    feed = _feeds.get(key)
    if feed is None:
        feed = _feeds[key] = Feed(db, run_id, seconds, hub)
    inbox = Inbox()
    feed.inboxes.add(inbox)
    try:
        yield feed, inbox
    finally:
        feed.inboxes.discard(inbox)
        if not feed.inboxes:
            feed.close()
            if _feeds.get(key) is feed:
                del _feeds[key]
