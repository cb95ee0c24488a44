"""A record of one model response or tool call: stored whole in one transaction or not at all, never twice, and its
events only while the run goes on, on the two write paths (SQLite's writer thread, PostgreSQL's pipeline)."""

from dataclasses import replace
from typing import Any

import httpx
import pytest
from dbos import error as dbos_error
from sqlalchemy import func, select

from agentruns import clock
from agentruns.events.hub import HUB
from agentruns.schemas import events as payloads
from agentruns.schemas.events import EventDraft
from agentruns.storage.models import JournalEntry, Run, RunEvent, RunLog, RunStep, UsageEntry
from agentruns.storage.queries import audit, inserts, owners, run_states
from tests.engine.conftest import wait_for_status
from tests.support.factories import make_agent, make_run
from tests.support.portal import AsyncBridge
from tests.support.workflows import set_workflow


def _queued_run(client: httpx.Client) -> str:
    return make_run(client, make_agent(client)["id"])["id"]


def _record(run_id: str, *, log_run_id: str | None = None) -> audit.Record:
    now = clock.now()
    step = {"run_id": run_id, "type": "tool_call", "timestamp": now, "content": None, "tool_name": "read",
            "tool_output": None, "duration_ms": None}  # fmt: skip
    usage = {"run_id": run_id, "kind": "llm", "service": "openai", "endpoint": None, "method": "POST",
             "status_code": 200, "model": "openai/gpt-4o", "prompt_tokens": 10, "completion_tokens": 5,
             "cached_tokens": 0, "total_tokens": 15, "cost_micros": 7, "timestamp": now}  # fmt: skip
    return audit.Record(
        run_id,
        journal=[{"run_id": run_id, "execution": 0, "number": 1, "value": b"response"}],
        steps=[step | {"number": 1, "tool_input": {"path": "a.txt"}}, step | {"number": 2, "tool_input": None}],
        usage=[usage | {"number": 1, "metadata_": None}, usage | {"number": 2, "metadata_": {"note": "no price"}}],
        logs=[{"run_id": log_run_id or run_id, "stream": "runner", "number": 1, "text": "request\n", "timestamp": now}],
        drafts=[EventDraft("run.step", {"n": 1}, "step:1"), EventDraft("run.step", {"n": 2}, "step:2")],
    )


async def _stored(bridge: AsyncBridge, run_id: str) -> dict[str, Any]:
    async with bridge.db.read() as session:

        async def count(model: Any, *where: Any) -> int:
            return (
                await session.scalar(select(func.count()).select_from(model).where(model.run_id == run_id, *where))
            ) or 0

        usage = await session.scalars(select(UsageEntry).where(UsageEntry.run_id == run_id).order_by(UsageEntry.number))
        inputs = await session.scalars(
            select(RunStep.tool_input).where(RunStep.run_id == run_id).order_by(RunStep.number)
        )
        events = await session.execute(
            select(RunEvent.seq, RunEvent.name, RunEvent.source).where(RunEvent.run_id == run_id).order_by(RunEvent.seq)
        )
        return {
            "journal": await count(JournalEntry),
            "steps": await count(RunStep),
            # None is stored as SQL NULL, as the ORM's own statements store it, not as JSON null
            "steps without output": await count(RunStep, RunStep.tool_output.is_(None)),
            "tool inputs": list(inputs),
            "usage": [(entry.number, entry.total_tokens, entry.metadata_) for entry in usage],
            "logs": await count(RunLog),
            "events": [tuple(row) for row in events],
        }


def test_a_record_is_stored_whole_and_a_replayed_one_adds_nothing(client: httpx.Client, bridge: AsyncBridge) -> None:
    run_id = _queued_run(client)
    bridge.call(audit.store, bridge.db, _record(run_id))
    bridge.call(audit.store, bridge.db, _record(run_id))  # a replay after a crash: the same rows and sources

    stored = bridge.call(_stored, bridge, run_id)
    assert stored == {
        "journal": 1,
        "steps": 2,
        "steps without output": 2,
        "tool inputs": [{"path": "a.txt"}, None],
        "usage": [(1, 15, None), (2, 15, {"note": "no price"})],
        "logs": 1,
        "events": [(1, "run.status", None), (2, "run.step", "step:1"), (3, "run.step", "step:2")],
    }


def test_a_record_of_more_rows_than_one_statement_takes_is_stored_whole(
    client: httpx.Client, bridge: AsyncBridge
) -> None:
    run_id = _queued_run(client)
    count = inserts.PIPELINED_ROWS * 2 + 1
    lines = [{"run_id": run_id, "stream": "runtime", "number": number, "text": f"{number}\n", "timestamp": clock.now()}
             for number in range(1, count + 1)]  # fmt: skip
    bridge.call(audit.store, bridge.db, audit.Record(run_id, logs=lines))
    bridge.call(audit.store, bridge.db, audit.Record(run_id, logs=lines[-2:]))  # a replay of the last ones

    assert bridge.call(_stored, bridge, run_id)["logs"] == count
    assert client.get(f"/agent/v1/run/{run_id}").json()["result"]["logs"]["runtime"].endswith(f"{count - 1}\n{count}\n")


def test_a_record_that_fails_stores_nothing(client: httpx.Client, bridge: AsyncBridge) -> None:
    run_id = _queued_run(client)
    with pytest.raises(Exception, match=r"(?i)foreign key"):  # its log line names a run that does not exist
        bridge.call(audit.store, bridge.db, _record(run_id, log_run_id="run_missing"))

    stored = bridge.call(_stored, bridge, run_id)
    assert (stored["journal"], stored["steps"], stored["usage"], stored["logs"]) == (0, 0, [], 0)
    assert stored["events"] == [(1, "run.status", None)]


def test_a_record_that_fails_before_it_is_all_sent_stores_nothing(client: httpx.Client, bridge: AsyncBridge) -> None:
    # On PostgreSQL the journal and the steps have gone to the server when the usage fails to encode: the transaction
    # must not commit them.
    run_id = _queued_run(client)
    record = _record(run_id)
    unencodable = [entry | {"metadata_": {"note": object()}} for entry in record.usage]
    with pytest.raises(Exception, match="not JSON serializable"):  # TypeError, or SQLAlchemy's wrapping it
        bridge.call(audit.store, bridge.db, replace(record, usage=unencodable))

    stored = bridge.call(_stored, bridge, run_id)
    assert (stored["journal"], stored["steps"], stored["usage"], stored["logs"]) == (0, 0, [], 0)
    bridge.call(audit.store, bridge.db, record)  # and the next write goes through whole
    assert bridge.call(_stored, bridge, run_id)["steps"] == 2


def test_once_the_run_ended_a_record_keeps_its_rows_but_appends_no_event(
    client: httpx.Client, bridge: AsyncBridge
) -> None:
    run_id = _queued_run(client)

    async def end() -> None:
        async with bridge.db.write() as session:
            assert await run_states.fail(session, run_id, clock.now(), "INTERNAL_ERROR", "stopped", timed_out=False)

    bridge.call(end)
    bridge.call(audit.store, bridge.db, _record(run_id))

    stored = bridge.call(_stored, bridge, run_id)
    assert (stored["steps"], stored["logs"]) == (2, 1)
    assert [name for _, name, _ in stored["events"]][-1] == "run.failed"
    assert "run.step" not in [name for _, name, _ in stored["events"]]


def test_a_record_wakes_the_runs_streams_only_when_it_appends_an_event(
    client: httpx.Client, bridge: AsyncBridge
) -> None:
    run_id = _queued_run(client)

    async def scenario() -> tuple[bool, bool]:
        with HUB.subscribe(run_id) as waiter:
            await audit.store(bridge.db, _record(run_id))
            first = await waiter.wait(10)
        with HUB.subscribe(run_id) as waiter:
            await audit.store(bridge.db, _record(run_id))  # nothing new
            return first, await waiter.wait(0.2)

    assert bridge.call(scenario) == (True, False)


def test_a_record_sets_the_runs_sandbox_fields(client: httpx.Client, bridge: AsyncBridge) -> None:
    run_id = _queued_run(client)
    record = audit.Record(run_id, runtime={"provider": "bubblewrap", "runtime_id": "sbx_1", "runtime_state": "running"})
    bridge.call(audit.store, bridge.db, record)

    async def sandbox() -> tuple[str | None, str | None, str | None]:
        async with bridge.db.read() as session:
            row = (
                await session.execute(select(Run.provider, Run.runtime_id, Run.runtime_state).where(Run.id == run_id))
            ).one()
            return row.provider, row.runtime_id, row.runtime_state

    assert bridge.call(sandbox) == ("bubblewrap", "sbx_1", "running")


def _starting(run_id: str, at: Any) -> audit.Record:
    """The record of a run's start, as the workflow writes it: its journal's start, its sandbox, a log line."""
    return audit.Record(
        run_id,
        journal=[{"run_id": run_id, "execution": 0, "number": 0, "value": b"what it runs"}],
        logs=[{"run_id": run_id, "stream": "runtime", "number": 1, "text": "sandbox started\n", "timestamp": at}],
        runtime={"provider": "bubblewrap", "runtime_id": "sbx_1", "runtime_state": "running"},
        drafts=[payloads.run_started(run_id, at)],
        starts_at=at,
    )


async def _run_row(bridge: AsyncBridge, run_id: str) -> tuple[Any, ...]:
    async with bridge.db.read() as session:
        query = select(Run.status, Run.started_at, Run.runtime_id, Run.runtime_state).where(Run.id == run_id)
        return tuple((await session.execute(query)).one())


def test_a_record_that_starts_the_run_starts_it_with_its_sandbox_in_one_transaction(
    client: httpx.Client, bridge: AsyncBridge
) -> None:
    run_id = _queued_run(client)
    at = clock.now()
    assert bridge.call(audit.store, bridge.db, _starting(run_id, at)) is True

    assert bridge.call(_run_row, bridge, run_id) == ("running", at, "sbx_1", "running")
    stored = bridge.call(_stored, bridge, run_id)
    assert (stored["journal"], stored["logs"]) == (1, 1)
    assert stored["events"] == [(1, "run.status", None), (2, "run.status", None)]
    assert bridge.call(_event_data, bridge, run_id, 2) == {
        "id": run_id, "status": "running", "startedAt": client.get(f"/agent/v1/run/{run_id}").json()["startedAt"],
        "completedAt": None, "durationMs": 0,
    }  # fmt: skip
    details = client.get(f"/agent/v1/run/{run_id}").json()
    assert (details["status"], details["runtimeState"]) == ("running", "running")


async def _event_data(bridge: AsyncBridge, run_id: str, seq: int) -> Any:
    async with bridge.db.read() as session:
        return await session.scalar(select(RunEvent.data).where(RunEvent.run_id == run_id, RunEvent.seq == seq))


def test_a_record_that_starts_a_run_cancelled_meanwhile_writes_nothing(
    client: httpx.Client, bridge: AsyncBridge
) -> None:
    run_id = _queued_run(client)
    assert client.post(f"/agent/v1/run/{run_id}/cancel").status_code == 200
    ended = bridge.call(_run_row, bridge, run_id)

    assert bridge.call(audit.store, bridge.db, _starting(run_id, clock.now())) is False

    assert bridge.call(_run_row, bridge, run_id) == ended
    assert ended[0] == "cancelled"
    stored = bridge.call(_stored, bridge, run_id)
    assert (stored["journal"], stored["logs"]) == (0, 0)
    assert [name for _, name, _ in stored["events"]] == ["run.status", "run.cancelled"]


def _finished_workflow(client: httpx.Client) -> tuple[str, str]:
    """A run that a worker executed, and its workflow's id (DBOS's row of it exists)."""
    run = make_run(client, make_agent(client)["id"], prompt="reply done")
    executed = client.post(f"/agent/v1/run/{run['id']}/exec")
    assert executed.status_code == 200
    wait_for_status(client, run["id"])
    return run["id"], executed.json()["workflowId"]


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("with_events", [False, True], ids=["alone", "with-events"])
def test_a_record_is_stored_only_while_its_execution_owns_the_workflow(
    client: httpx.Client, bridge: AsyncBridge, with_events: bool
) -> None:
    # On PostgreSQL, a record with events is checked by the statement that appends them, one without by a statement
    # of its own.
    run_id, workflow_id = _finished_workflow(client)
    before = bridge.call(_stored, bridge, run_id)["journal"]

    def stored(token: str, number: int) -> bool:
        record = _record(run_id)
        journal = [{"run_id": run_id, "execution": 9, "number": number, "value": b"response"}]
        drafts = [EventDraft("run.step", {"n": number}, source=f"test:{number}")] if with_events else []
        owner = owners.Owner(workflow_id, token)
        owned = audit.Record(run_id, journal=journal, logs=record.logs, drafts=drafts, owner=owner)
        return bridge.call(_store_unless_refused, bridge, owned)

    set_workflow(bridge, workflow_id, "PENDING", "claim-a")  # execution a claimed it
    assert stored("claim-a", 1)
    assert not stored("claim-b", 2)  # a stale execution: another claimed the workflow since
    set_workflow(bridge, workflow_id, "ENQUEUED", None)  # a live worker's recovery re-enqueued it
    assert not stored("claim-a", 3)
    set_workflow(bridge, workflow_id, "CANCELLED", None)  # a cancelled run's execution records how it stopped
    assert stored("claim-a", 4)

    journal = bridge.call(_journal_numbers, bridge, run_id, 9)
    assert journal == [1, 4], "a refused record stored nothing"
    assert bridge.call(_stored, bridge, run_id)["journal"] == before + 2

    # The same check in a session's transaction, as the run's end is written
    set_workflow(bridge, workflow_id, "PENDING", "claim-b")
    assert bridge.call(_held, bridge, owners.Owner(workflow_id, "claim-b"))
    assert not bridge.call(_held, bridge, owners.Owner(workflow_id, "claim-a"))


async def _held(bridge: AsyncBridge, owner: owners.Owner) -> bool:
    """Whether a transaction of `owner` passes `owners.hold`."""
    try:
        async with bridge.db.write() as session:
            await owners.hold(session, owner)
    except dbos_error.DBOSWorkflowConflictIDError:
        return False
    return True


async def _store_unless_refused(bridge: AsyncBridge, record: audit.Record) -> bool:
    """Store the record; False if it was refused (a BaseException, which must not cross the test's portal)."""
    try:
        await audit.store(bridge.db, record)
    except dbos_error.DBOSWorkflowConflictIDError:
        return False
    return True


async def _journal_numbers(bridge: AsyncBridge, run_id: str, execution: int) -> list[int]:
    async with bridge.db.read() as session:
        query = select(JournalEntry.number).where(JournalEntry.run_id == run_id, JournalEntry.execution == execution)
        return sorted(await session.scalars(query))
