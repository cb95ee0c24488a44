"""Relay PostgreSQL notifications of new events to this process's hub, so streams see other processes' events.

One connection per API process, outside the pool. It reconnects with backoff when it drops and then wakes
every stream, since notifications sent meanwhile are lost; each followed run's log is also checked every
`AGENTRUNS_EVENTS_POLL_SECONDS` (`events.feed`), so a lost notification delays an event by at most that. The
process's own notifications are skipped: its commits woke its streams already. On SQLite there is nothing to
listen to: events written by this process wake its streams directly, and that check finds the rest.
"""

import asyncio
import contextlib
import logging

import psycopg

from agentruns.backoff import Backoff
from agentruns.events.hub import HUB, EventHub
from agentruns.storage.database import DatabaseKind, parse_database_url, system_database_url
from agentruns.storage.queries.events import NOTIFY_CHANNEL, notified_run

log = logging.getLogger("agentruns.events")

RECONNECT = Backoff(first=0.1, cap=5.0)
"""The pause before each new connection after one dropped or was refused."""


class NotificationListener:
    """LISTENs on the event channel for as long as it runs (a no-op on SQLite)."""

    def __init__(self, database_url: str, hub: EventHub = HUB) -> None:
        kind, _ = parse_database_url(database_url)
        self._conninfo = system_database_url(database_url) if kind is DatabaseKind.POSTGRESQL else None
        self._hub = hub
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        """Set while the connection listens (tests wait for it)."""

    async def start(self) -> None:
        """Start listening in the background."""
        if self._conninfo is not None:
            self._task = asyncio.create_task(self._listen_forever(self._conninfo), name="agentruns-event-listener")

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen_forever(self, conninfo: str) -> None:
        failures = 0  # in a row: a connection that listened starts the count again
        while True:
            why = "the connection closed"
            try:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as connection:
                    await connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.listening.set()
                    failures = 0
                    self._hub.publish_all()
                    async for notification in connection.notifies():
                        if (run_id := notified_run(notification.payload)) is not None:
                            self._hub.publish(run_id)
            except psycopg.Error as exc:
                why = str(exc).strip()
            finally:
                self.listening.clear()
            failures += 1
            delay = RECONNECT.after(failures)
            log.warning("event notifications interrupted (%s); reconnecting in %.1f s", why, delay)
            await asyncio.sleep(delay)
