"""Run execution use cases: start a run's durable workflow exactly once, and cancel a run."""

from sqlalchemy.ext.asyncio import AsyncSession

from agentruns import clock
from agentruns.engine import endings
from agentruns.engine.client import EngineClient
from agentruns.engine.launch import execute_on
from agentruns.errors import Conflict
from agentruns.schemas.runs import RunCancelled, RunExecuted, RunStatus
from agentruns.services.runs import run_not_found
from agentruns.storage.database import Database
from agentruns.storage.models import Run
from agentruns.storage.queries import run_states, runs

EXEC_MESSAGE = "Run started. Poll /run/:id/status, stream /run/:id/events or register a watcher."


async def exec_run(db: Database, engine: EngineClient, org_id: str, run_id: str) -> RunExecuted:
    """Enqueue the run's workflow; the run's claim and the enqueue commit together, so exactly one exec wins."""
    # On Core, not an ORM session: the exec is half of the API's work for each run.
    workflow_id = await db.write_core(lambda connection: execute_on(connection, engine, org_id, run_id))
    if workflow_id is not None:
        return RunExecuted(id=run_id, status=RunStatus.RUNNING, workflow_id=workflow_id, message=EXEC_MESSAGE)
    async with db.read() as session:
        run = await runs.get(session, org_id, run_id)
    if run is None:
        raise run_not_found(run_id)
    if run.workflow_id is not None:
        raise Conflict(f"run {run_id!r} was already executed; each run executes once (create a new run)")
    raise Conflict(f"run {run_id!r} is {run.status} and can no longer be executed")


async def cancel_run(db: Database, engine: EngineClient, org_id: str, run_id: str) -> RunCancelled:
    """Cancel a queued, running or waiting run, and its active descendants; a finished run answers its status
    with a message."""

    async def cancel(session: AsyncSession) -> Run | None:
        return await run_states.cancel(session, org_id, run_id, clock.now())

    cancelled = await endings.ending(db, engine, run_id, cancel)
    async with db.read() as session:
        run = await runs.get(session, org_id, run_id)
    if run is None:
        raise run_not_found(run_id)
    if not cancelled:
        return RunCancelled(
            id=run_id, status=RunStatus(run.status), message=f"run already {run.status}; nothing to cancel"
        )
    if run.workflow_id is not None:
        await engine.cancel(run.workflow_id)
    return RunCancelled(id=run_id, status=RunStatus.CANCELLED, message=None)
