"""Child runs: the `task` tool's runs of another agent of the organization (or of the same one).

A child is made and enqueued in one transaction, under a lock on its parent's row, with an id derived from
its parent and the tool call, so a replayed call never makes two. Its parent then waits for it (see
`engine/waits.py`); its end hands its outcome back (see `engine/endings.py`).
"""

from sqlalchemy import select

from agentruns import clock
from agentruns.engine import launch, waits
from agentruns.engine.client import EngineClient
from agentruns.engine.launch import NewRun, child_run_id
from agentruns.schemas.runs import RunStatus
from agentruns.storage.database import Database
from agentruns.storage.models import Run
from agentruns.storage.queries import agents

DEPTH_SETTING = "AGENTRUNS_MAX_RUN_DEPTH"


class ChildRuns:
    """The `Delegation` of one run in a worker."""

    def __init__(self, db: Database, engine: EngineClient, *, run_id: str, resume: int, max_depth: int) -> None:
        self.db = db
        self.engine = engine
        self.run_id = run_id
        self.resume = resume
        self.max_depth = max_depth

    async def start_child(self, tool_call_id: str, agent_id: str | None, prompt: str) -> str:
        """Make and enqueue the child run of this tool call, unless it exists; its id."""
        child_id = child_run_id(self.run_id, self.resume, tool_call_id)
        async with self.db.write() as session:
            parent = await waits.lock(session, self.run_id)
            assert parent is not None
            if await session.scalar(select(Run.id).where(Run.id == child_id)) is not None:
                return child_id  # made before a crash: this is the tool call's replay
            if parent.status != RunStatus.RUNNING:
                raise ValueError(f"this run is {parent.status}; it cannot start child runs")
            if parent.depth >= self.max_depth:
                raise ValueError(
                    f"child runs nest at most {self.max_depth} deep ({DEPTH_SETTING}) and this run is at depth "
                    f"{parent.depth}: do the task yourself"
                )
            target = agent_id or parent.agent_id
            agent = await agents.get(session, parent.org_id, target)
            if agent is None or (agent.ephemeral and agent.id != parent.agent_id):
                raise ValueError(f"there is no agent {target!r} in this organization")
            new = NewRun(
                run_id=child_id,
                org_id=parent.org_id,
                agent_id=agent.id,
                prompt=prompt,
                model=parent.model if agent.id == parent.agent_id else agent.model,
                parent_run_id=parent.id,
                depth=parent.depth + 1,
            )
            child = await launch.add_run(session, new, clock.now())
            await launch.execute_in(session, self.engine, child)
        return child_id
