"""PostgreSQL notifications wake this process's streams, also after the listening connection was dropped."""

import asyncio

import psycopg

from agentruns.events.hub import EventHub
from agentruns.events.listener import NotificationListener
from agentruns.schemas.agents import AgentCreate
from agentruns.schemas.events import EventDraft
from agentruns.schemas.runs import RunCreate
from agentruns.services import agents, runs
from agentruns.services.auth import issue_key
from agentruns.storage import migrate
from agentruns.storage.database import Database
from agentruns.storage.queries import events
from agentruns.storage.queries.events import NOTIFY_CHANNEL, sender
from tests.support.databases import needs_postgresql, postgres_database

pytestmark = needs_postgresql


async def _notify(url: str, run_id: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        await connection.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, run_id))


def test_notifications_wake_the_runs_streams_and_survive_a_dropped_connection() -> None:
    async def scenario(url: str) -> None:
        hub = EventHub()
        listener = NotificationListener(url, hub)
        await listener.start()
        try:
            with hub.subscribe("run_a") as watching_a, hub.subscribe("run_b") as watching_b:
                await asyncio.wait_for(listener.listening.wait(), 30)
                watching_a.reset()
                watching_b.reset()
                await _notify(url, "run_a")
                assert await watching_a.wait(30)
                assert not await watching_b.wait(0.2), "a notification wakes only its run's streams"
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as admin:
                    await admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = %s",
                        (f"LISTEN {NOTIFY_CHANNEL}",),
                    )
                # Notifications sent while it was away are lost, so a reconnected listener wakes every stream.
                assert await watching_b.wait(30)
                await asyncio.wait_for(listener.listening.wait(), 30)
                watching_a.reset()
                await _notify(url, "run_a")
                assert await watching_a.wait(30)
        finally:
            await listener.stop()

    with postgres_database() as url:
        asyncio.run(scenario(url))


def test_a_processs_own_notifications_are_skipped_and_others_relayed() -> None:
    async def scenario(url: str) -> tuple[bool, bool]:
        hub = EventHub()
        listener = NotificationListener(url, hub)
        await listener.start()
        try:
            with hub.subscribe("run_a") as watching:
                await asyncio.wait_for(listener.listening.wait(), 30)
                watching.reset()
                await _notify(url, f"run_a {sender()}")  # this process's commit woke its streams already
                own = await watching.wait(0.5)
                await _notify(url, "run_a 0123456789abcdef")  # another process's
                other = await watching.wait(30)
                return own, other
        finally:
            await listener.stop()

    with postgres_database() as url:
        assert asyncio.run(scenario(url)) == (False, True)


def test_on_sqlite_the_listener_does_nothing(tmp_path: object) -> None:
    async def scenario() -> None:
        listener = NotificationListener(f"sqlite:///{tmp_path}/x.db")
        await listener.start()
        await listener.stop()
        assert not listener.listening.is_set()

    asyncio.run(scenario())


def test_a_committed_append_notifies_on_the_channel_listeners_hear() -> None:
    # The notification is sent by the append's SQL function (migration 0008), not by this package's Python.
    async def scenario(url: str) -> tuple[list[str], str]:
        await asyncio.to_thread(migrate.upgrade, url)
        db = Database(url)
        org_id = (await issue_key(db, "listeners")).org_id
        agent = await agents.create_agent(db, org_id, AgentCreate(name="a", instructions="i", model="offline/scripted"))
        run = await runs.create_run(db, org_id, RunCreate.model_validate({"agentId": agent.id, "prompt": "p"}))
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as listening:
            await listening.execute(f"LISTEN {NOTIFY_CHANNEL}")
            await db.write_core(lambda connection: events.append_on(connection, run.id, [EventDraft("x", {})]))
            heard = [notification.payload async for notification in listening.notifies(timeout=10, stop_after=1)]
        await db.dispose()
        return heard, run.id

    with postgres_database() as url:
        heard, run_id = asyncio.run(scenario(url))
    assert heard == [f"{run_id} {sender()}"]
