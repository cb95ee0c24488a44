"""Run state changes, each a small named rule applied by one conditional UPDATE.

A rule changes a run only from the states it names, so concurrent changes (a cancel racing the end of a
run) leave exactly one winner, and a replayed change is a no-op. A change that happens appends its event
to the run's event log in the same transaction; the end of a run also schedules its watchers' webhooks. (The
start, queued → running, is written with the run's sandbox on the step's write path: `audit.Record.starts_at`.)
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Result, Update, bindparam, case, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns import clock
from agentruns.schemas import events as payloads
from agentruns.schemas.runs import RunStatus
from agentruns.storage.models import Run, run_view
from agentruns.storage.queries import events, webhooks

ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING)


def claim_for_exec_on(connection: Connection, org_id: str, run_id: str, workflow_id: str) -> bool:
    """A queued run that was never executed gets its workflow id, on a Core connection (`Database.write_core`, or a
    session's); False if it was executed or ended."""
    params = {"org": org_id, "run": run_id, "new_workflow_id": workflow_id}
    return connection.execute(_CLAIM_FOR_EXEC, params).rowcount == 1


_CLAIM_FOR_EXEC = (
    update(Run)
    .where(
        Run.id == bindparam("run"),
        Run.org_id == bindparam("org"),
        Run.status == RunStatus.QUEUED.value,
        Run.workflow_id.is_(None),
    )
    .values(workflow_id=bindparam("new_workflow_id"))
)
"""Built once: building it per exec cost more than running it."""


def completed(at: datetime, output: str) -> dict[str, Any]:
    """The values of a run that completed at `at` with the agent's answer."""
    return {"status": RunStatus.COMPLETED, "completed_at": at, "output": output, "summary": _summary(output)}


def failed(at: datetime, code: str, message: str, *, timed_out: bool) -> dict[str, Any]:
    """The values of a run that failed (or timed out) at `at` with this error."""
    return {
        "status": RunStatus.TIMEOUT if timed_out else RunStatus.FAILED,
        "completed_at": at,
        "failed_at": at,
        "error_code": code,
        "error_message": message,
        "runtime_state": _ERROR_IF_RUNNING,
    }


_ERROR_IF_RUNNING = case((Run.runtime_state == "running", "error"), else_=Run.runtime_state)
"""The workflow closes the sandbox (archived, ended or error) before it records the end; a sandbox still shown running
at the end belonged to a workflow that ended abnormally. One object, so that statements built with it are cached."""


async def complete(session: AsyncSession, run_id: str, at: datetime, output: str) -> Run | None:
    """running → completed, with the agent's answer; the run as it ended, or None if it had ended already."""
    statement = update(Run).where(Run.id == run_id, Run.status.in_(ACTIVE)).values(**completed(at, output))
    return await _announced(session, statement)


async def fail(
    session: AsyncSession,
    run_id: str,
    at: datetime,
    code: str,
    message: str,
    *,
    timed_out: bool,
    from_statuses: Sequence[str] = ACTIVE,
) -> Run | None:
    """→ failed (or → timeout), with the error that ended the run; only from `from_statuses`. The run as it ended, or
    None if it was in none of them."""
    values = failed(at, code, message, timed_out=timed_out)
    statement = update(Run).where(Run.id == run_id, Run.status.in_(from_statuses)).values(**values)
    return await _announced(session, statement)


async def wait(session: AsyncSession, run_id: str, awaited: list[dict[str, Any]]) -> bool:
    """running → waiting, for the answers or child runs in `awaited` (shown in its `run.status` event); its
    sandbox's processes are stopped, its workspace kept."""
    stopped = case((Run.runtime_state == "running", "stopped"), else_=Run.runtime_state)
    statement = (
        update(Run)
        .where(Run.id == run_id, Run.status == RunStatus.RUNNING)
        .values(status=RunStatus.WAITING, runtime_state=stopped)
    )
    return await _announced(session, statement, {"waitingFor": awaited}) is not None


async def resume(session: AsyncSession, run_id: str, workflow_id: str, waited_ms: int) -> bool:
    """waiting → running, by the workflow that resumes the run; `waited_ms` is added to its time spent waiting."""
    statement = (
        update(Run)
        .where(Run.id == run_id, Run.status == RunStatus.WAITING)
        .values(status=RunStatus.RUNNING, workflow_id=workflow_id, waited_ms=Run.waited_ms + waited_ms)
    )
    return await _announced(session, statement) is not None


async def cancel(session: AsyncSession, org_id: str, run_id: str, at: datetime) -> Run | None:
    """queued | running | waiting → cancelled; the run as it ended, or None if it had ended already."""
    statement = (
        update(Run)
        .where(Run.id == run_id, Run.org_id == org_id, Run.status.in_(ACTIVE))
        .values(status=RunStatus.CANCELLED, completed_at=at)
    )
    return await _announced(session, statement)


async def _announced(session: AsyncSession, statement: Update, extra: dict[str, Any] | None = None) -> Run | None:
    """Apply the rule's UPDATE; the run it changed, or None. If it changed the run, its new status (with `extra`) is
    appended to the run's events (and, if the run has ended, its watchers' webhooks are scheduled).

    The UPDATE returns the changed row, which refreshes the session's copy of the run: one round trip.
    """
    returning = statement.returning(Run).execution_options(populate_existing=True, synchronize_session=False)
    run = await session.scalar(returning)
    if run is None:
        return None
    run_id = run.id
    now = clock.now()
    ended = RunStatus(run.status).is_terminal
    draft = payloads.status_changed(run_view(run), now)
    if extra:
        draft = payloads.EventDraft(draft.name, draft.data | extra, draft.source)
    await events.append(session, run_id, [draft], closing=ended)
    if ended:
        await webhooks.schedule(session, run_view(run), now)
    return run


def changed(result: Result[Any]) -> bool:
    """Whether an UPDATE changed a row."""
    return cast(CursorResult[Any], result).rowcount == 1


def _summary(output: str, limit: int = 500) -> str:
    """The first paragraph of the answer, cut to `limit` characters."""
    first = output.strip().split("\n\n", 1)[0]
    return first if len(first) <= limit else first[: limit - 1] + "…"
