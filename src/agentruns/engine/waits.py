"""Runs that wait, and how they resume.

When the agent loop stops for tool calls it cannot finish itself — a `question` for a person, a `task` for a
child run — the run's wait is recorded with the loop's messages and the run becomes `waiting`: its workflow
ends and it holds no worker. Each awaited call is resolved by `POST /run/{id}/input` or by the child run's
end; the transaction that resolves the last one marks the run `running` and enqueues its continuation
workflow (`workflow_id_for(run, N)` after wait N), which replays the messages with the results.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter, ToolCallPart
from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns import clock
from agentruns.agent.loop import Resumption
from agentruns.engine.client import EngineClient
from agentruns.engine.names import workflow_id_for
from agentruns.engine.recorder import DatabaseRecorder
from agentruns.schemas.runs import RunStatus
from agentruns.storage.database import Database
from agentruns.storage.models import Run, RunPendingCall, RunWait
from agentruns.storage.queries import run_states, waits

QUESTION, CHILD_RUN = "question", "run"


def awaited_json(call: RunPendingCall) -> dict[str, Any]:
    """What the call waits for, as the details' `waitingFor` and the `waiting` event show it."""
    return {"id": call.tool_call_id, "kind": call.kind, "question": call.question, "runId": call.child_run_id}


def child_outcome(child: Run) -> dict[str, Any]:
    """How a child run ended, as its parent's `task` call returns it to the parent's model."""
    outcome: dict[str, Any] = {"runId": child.id, "status": child.status}
    if child.status == RunStatus.COMPLETED:
        outcome["output"] = child.output
    elif child.error_code is not None:
        outcome["error"] = {"code": child.error_code, "message": child.error_message or ""}
    return outcome


def _pending(run_id: str, number: int, requests: DeferredToolRequests) -> list[RunPendingCall]:
    pending: list[RunPendingCall] = []
    for position, call in enumerate(requests.calls):
        metadata = requests.metadata.get(call.tool_call_id, {})
        child = metadata.get("runId")
        pending.append(
            RunPendingCall(
                run_id=run_id,
                wait_number=number,
                tool_call_id=call.tool_call_id,
                position=position,
                kind=CHILD_RUN if child else QUESTION,
                tool_name=call.tool_name,
                tool_input=call.args_as_dict(),
                question=None if child else str(metadata.get("question", "")),
                child_run_id=child,
            )
        )
    return pending


async def record_wait(
    db: Database,
    engine: EngineClient,
    *,
    run_id: str,
    number: int,
    started: dict[str, Any],
    messages: Sequence[ModelMessage],
    requests: DeferredToolRequests,
    limit_seconds: float,
) -> bool:
    """Record the run's wait `number`; False if the run was no longer running (it was cancelled meanwhile).

    Child runs that ended before the wait was recorded resolve their calls at once, in the same transaction,
    so that no child's end is missed (a child's end locks its parent's row first, as this does).
    """
    now = clock.now()
    pending = _pending(run_id, number, requests)
    async with db.write() as session:
        if await waits.get(session, run_id, number) is not None:
            return True  # recorded before a crash; this is the workflow's replay
        if not await run_states.wait(session, run_id, [awaited_json(call) for call in pending]):
            return False
        history = ModelMessagesTypeAdapter.dump_python(list(messages), mode="json")
        deadline = now + timedelta(seconds=limit_seconds)
        session.add(RunWait(run_id=run_id, number=number, started=started, history=history, created_at=now,
                            deadline=deadline))  # fmt: skip
        session.add_all(pending)
        await session.flush()
        for call in pending:
            if call.child_run_id is None:
                continue
            child = await session.scalar(select(Run).where(Run.id == call.child_run_id))
            if child is not None and RunStatus(child.status).is_terminal:
                await deliver(session, engine, call, child_outcome(child), now)
    return True


async def deliver(session: AsyncSession, engine: EngineClient, call: RunPendingCall, result: Any, at: datetime) -> bool:
    """Resolve an awaited call; if it was the last one, resume the run. False if it was already resolved.

    The caller holds the run's row locked, so concurrent deliveries to one run are counted one after the other.
    """
    if not await waits.resolve(session, call, result, at):
        return False
    if await waits.unresolved(session, call.run_id, call.wait_number) == 0:
        await _resume(session, engine, call.run_id, call.wait_number, at)
    return True


async def _resume(session: AsyncSession, engine: EngineClient, run_id: str, number: int, at: datetime) -> None:
    wait = await waits.get(session, run_id, number)
    assert wait is not None
    waited_ms = max(0, round((at - wait.created_at).total_seconds() * 1000))
    workflow_id = workflow_id_for(run_id, number)
    if not await run_states.resume(session, run_id, workflow_id, waited_ms):
        return
    await waits.mark_resumed(session, run_id, number, at)
    org_id = await session.scalar(select(Run.org_id).where(Run.id == run_id))
    assert org_id is not None
    await engine.enqueue_in(session, run_id=run_id, org_id=org_id, workflow_id=workflow_id, resume=number)


async def lock(session: AsyncSession, run_id: str) -> Run | None:
    """The run's row, locked until the transaction ends (a no-op on SQLite, whose writers take turns)."""
    query = select(Run).where(Run.id == run_id).with_for_update(key_share=True)
    return await session.scalar(query.execution_options(populate_existing=True))


async def child_ended(session: AsyncSession, engine: EngineClient, child: Run) -> None:
    """Hand a child run's outcome to its parent, if the parent waits for it (the caller locked the parent)."""
    if child.parent_run_id is None:
        return
    call = await waits.call_for_child(session, child.parent_run_id, child.id)
    if call is not None:
        await deliver(session, engine, call, child_outcome(child), clock.now())


async def resumption(db: Database, recorder: DatabaseRecorder, run_id: str, number: int, requests: int) -> Resumption:
    """What the continuation after wait `number` replays; the results are recorded as their calls' results.

    A wait's rows do not change once it is resumed, so a replay of the continuation reads the same.
    """
    async with db.read() as session:
        wait = await waits.get(session, run_id, number)
        calls = await waits.calls(session, run_id, number)
    assert wait is not None
    for call in calls:
        assert call.resolved_at is not None
        part = ToolCallPart(tool_name=call.tool_name, args=call.tool_input, tool_call_id=call.tool_call_id)
        await recorder.awaited_result(part, call.result, since=wait.created_at, at=call.resolved_at)
    return Resumption(
        history=ModelMessagesTypeAdapter.validate_python(wait.history),
        results=DeferredToolResults(calls={call.tool_call_id: call.result for call in calls}),
        model_requests=requests,
    )
