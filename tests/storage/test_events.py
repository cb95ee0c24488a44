"""The run event log: numbered 1, 2, 3 … per run, each recorded item once, nothing after the terminal event."""

import asyncio
import contextlib
import json

import httpx
from sqlalchemy import select

from agentruns import clock
from agentruns.events.hub import HUB
from agentruns.storage.models import Run, RunEvent
from agentruns.storage.queries import events, run_states
from agentruns.storage.queries.events import EventDraft
from tests.support.factories import make_agent, make_run
from tests.support.portal import AsyncBridge


def _queued_run(client: httpx.Client) -> str:
    return make_run(client, make_agent(client)["id"])["id"]


async def _stored(bridge: AsyncBridge, run_id: str) -> list[tuple[int, str, str | None]]:
    query = select(RunEvent.seq, RunEvent.name, RunEvent.source).where(RunEvent.run_id == run_id).order_by(RunEvent.seq)
    async with bridge.db.read() as session:
        return [(seq, name, source) for seq, name, source in await session.execute(query)]


def test_each_source_is_stored_once_and_numbers_follow_on(client: httpx.Client, bridge: AsyncBridge) -> None:
    run_id = _queued_run(client)

    async def scenario() -> tuple[int, int, list[tuple[int, str, str | None]]]:
        async with bridge.db.write() as session:
            first = await events.append(
                session, run_id, [EventDraft("x", {"n": 1}, "item:1"), EventDraft("x", {"n": 2}, "item:2")]
            )
        async with bridge.db.write() as session:  # a replay: item 1 again, then new items
            again = await events.append(
                session,
                run_id,
                [EventDraft("x", {"n": 1}, "item:1"), EventDraft("x", {"n": 3}, "item:3"), EventDraft("y", {})],
            )
        return first, again, await _stored(bridge, run_id)

    first, again, stored = bridge.call(scenario)
    assert (first, again) == (2, 2)
    assert stored == [
        (1, "run.status", None), (2, "x", "item:1"), (3, "x", "item:2"), (4, "x", "item:3"), (5, "y", None),
    ]  # fmt: skip


def test_once_the_run_ended_only_its_terminal_event_is_appended(client: httpx.Client, bridge: AsyncBridge) -> None:
    run_id = _queued_run(client)
    assert client.post(f"/agent/v1/run/{run_id}/cancel").json()["status"] == "cancelled"

    async def scenario() -> tuple[int, bool, list[tuple[int, str, str | None]]]:
        async with bridge.db.write() as session:  # a worker recording a step of the run it had not yet stopped
            late = await events.append(session, run_id, [EventDraft("run.step", {}, "step:1")])
        async with bridge.db.write() as session:  # the worker, unaware, records the end of the run
            ended = await run_states.complete(session, run_id, clock.now(), "too late")
        return late, ended is not None, await _stored(bridge, run_id)

    late, ended, stored = bridge.call(scenario)
    assert (late, ended) == (0, False)
    assert stored == [(1, "run.status", None), (2, "run.cancelled", None)]


def test_concurrent_writers_of_one_run_take_consecutive_numbers(client: httpx.Client, bridge: AsyncBridge) -> None:
    run_id = _queued_run(client)
    writers = 40

    async def org_of_run() -> str:
        async with bridge.db.read() as session:
            return (await session.scalars(select(Run.org_id).where(Run.id == run_id))).one()

    org_id = bridge.call(org_of_run)

    async def write(number: int) -> None:
        async with bridge.db.write() as session:
            if number == writers // 2:  # a cancel racing the writers: the terminal event must still be last
                await run_states.cancel(session, org_id, run_id, clock.now())
            else:
                await events.append(session, run_id, [EventDraft("run.step", {"n": number}, f"step:{number}")])

    async def scenario() -> list[tuple[int, str, str | None]]:
        await asyncio.gather(*(write(number) for number in range(writers)))
        return await _stored(bridge, run_id)

    stored = bridge.call(scenario)
    assert [seq for seq, _, _ in stored] == list(range(1, len(stored) + 1))
    assert stored[-1][1] == "run.cancelled"
    steps = [source for _, name, source in stored if name == "run.step"]
    assert len(steps) == len(set(steps)) < writers


def test_a_stream_reads_the_stored_json_text_of_each_payload(client: httpx.Client, bridge: AsyncBridge) -> None:
    run_id = _queued_run(client)
    payloads = [{"text": "line one\nline two", "quote": '"', "emoji": "\u00e9t\u00e9"}, {}, {"n": [1, {"deep": None}]}]

    async def scenario() -> tuple[list[events.StoredEvent], list[events.StoredEvent]]:
        async with bridge.db.write() as session:
            await events.append(session, run_id, [EventDraft("x", payload) for payload in payloads])
        async with bridge.db.read() as session:  # event 1 is the run's `queued`
            return await events.stored_after(session, run_id, 1, limit=10), await events.stored_after(
                session, run_id, 2, limit=1
            )

    rows, one = bridge.call(scenario)

    assert [(row.seq, row.name) for row in rows] == [(2, "x"), (3, "x"), (4, "x")]
    assert [row.seq for row in one] == [3]
    assert [json.loads(row.data_json) for row in rows] == payloads
    assert all("\n" not in row.data_json for row in rows)  # one line each, as an SSE `data:` line needs
    assert all(row.created_at.tzinfo is not None for row in rows)


def test_a_committed_append_wakes_the_runs_streams_and_a_rolled_back_one_does_not(
    client: httpx.Client, bridge: AsyncBridge
) -> None:
    run_id = _queued_run(client)

    class RolledBack(Exception):
        pass

    async def scenario() -> tuple[bool, bool]:
        with HUB.subscribe(run_id) as waiter:
            with contextlib.suppress(RolledBack):
                async with bridge.db.write() as session:
                    await events.append(session, run_id, [EventDraft("x", {"n": 1}, "item:1")])
                    raise RolledBack
            after_rollback = await waiter.wait(0.2)
            async with bridge.db.write() as session:  # the same draft again: it was not stored
                await events.append(session, run_id, [EventDraft("x", {"n": 1}, "item:1")])
            return after_rollback, await waiter.wait(10)

    assert bridge.call(scenario) == (False, True)
    assert [name for _, name, _ in bridge.call(_stored, bridge, run_id)] == ["run.status", "x"]
