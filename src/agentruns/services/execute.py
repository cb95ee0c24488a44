"""The one-call execute: an ephemeral agent and its run, created and enqueued in one transaction.

The agent is never listed, takes no runs from the API, and is deleted (soft) when its run ends, however it ends
(`engine/endings.py`).
"""

from sqlalchemy.ext.asyncio import AsyncSession

from agentruns import clock
from agentruns.engine.client import EngineClient
from agentruns.engine.launch import NewRun, add_run, execute_in
from agentruns.ids import new_id
from agentruns.schemas.agents import Sandbox
from agentruns.schemas.execute import ExecuteCreate, ExecuteStarted
from agentruns.schemas.runs import RunStatus
from agentruns.services.agents import network_allow
from agentruns.services.execution import EXEC_MESSAGE
from agentruns.services.idempotency import create_once, request_hash
from agentruns.storage.database import Database
from agentruns.storage.models import Agent, Run


def _started(run: Run) -> ExecuteStarted:
    """The answer of the execute that made the run (replayed as it was for a repeated `Idempotency-Key`)."""
    return ExecuteStarted(run_id=run.id, agent_id=run.agent_id, status=RunStatus.RUNNING, message=EXEC_MESSAGE)


async def execute(
    db: Database, engine: EngineClient, org_id: str, body: ExecuteCreate, *, idempotency_key: str | None = None
) -> tuple[ExecuteStarted, bool]:
    """Create the ephemeral agent and its run, and enqueue the run's workflow.

    Returns:
        The answer, and whether it is the replay of an earlier execute with the same `idempotency_key`.
    """
    digest = request_hash("execute", body)

    async def create_in(session: AsyncSession) -> ExecuteStarted:
        now = clock.now()
        run_id = new_id("run")
        sandbox = body.sandbox or Sandbox()
        agent = Agent(
            id=new_id("agent"), org_id=org_id, name="execute",
            description=f"Made by POST /agent/v1/execute for run {run_id}; deleted when the run ends.",
            instructions=body.instructions, model=body.model, vault_ids=body.vault_ids or [], vault_groups=[],
            enabled_tools=body.enabled_tools, disabled_tools=body.disabled_tools, sandbox_cpu=sandbox.cpu,
            sandbox_memory_mib=sandbox.memory_mib, sandbox_network_allow=network_allow(sandbox), max_duration_ms=None,
            max_model_requests=None, max_cost_micros=None, is_active=True, ephemeral=True, created_at=now,
            updated_at=now, deleted_at=None,
        )  # fmt: skip
        session.add(agent)
        await session.flush()
        new = NewRun(
            run_id=run_id, org_id=org_id, agent_id=agent.id, prompt=body.prompt, model=body.model,
            guidance=body.guidance, object_ids=body.object_ids or [], metadata=body.metadata,
            max_duration_ms=body.max_duration_ms, max_model_requests=body.max_model_requests,
            max_cost_micros=body.max_cost_micros, idempotency_key=idempotency_key, request_hash=digest,
        )  # fmt: skip
        run = await add_run(session, new, now)
        await execute_in(session, engine, run)
        return _started(run)

    async def create() -> ExecuteStarted:
        async with db.write() as session:
            return await create_in(session)

    return await create_once(db, org_id, idempotency_key, digest, create, _started)
