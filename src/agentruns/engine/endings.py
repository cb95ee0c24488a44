"""A run's end and what it sets off, in the one transaction that records it.

When a run ends, however it ends: its active descendants are cancelled (they could hand their result to no
one), a parent that waits for it gets its outcome (and resumes if it waited for nothing else), the
ephemeral agent of an `execute` run is deleted, and a workspace left by a wait is shown `archived`. Rows
are locked parent before child, the order every writer of a run tree follows, so concurrent ends never
deadlock on PostgreSQL. A workflow ends a run with no parent and no children, most runs, on a shorter path with
the same outcome (`storage/queries/run_end.py`), and comes here for the others.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns import clock
from agentruns.engine import waits
from agentruns.engine.client import EngineClient
from agentruns.storage.database import Database
from agentruns.storage.models import Run
from agentruns.storage.queries import run_end, run_states, run_tree

Rule = Callable[[AsyncSession], Awaitable[Run | None]]
"""A state rule that ends the run (`run_states.complete`, `fail`, `cancel`), applied in the given session: the run
as it ended, or None if it had ended already."""


async def ending(db: Database, engine: EngineClient, run_id: str, rule: Rule) -> bool:
    """Apply `rule` and, if it ended the run, what follows; False if the run had already ended."""
    async with db.write() as session:
        parent_id = await session.scalar(select(Run.parent_run_id).where(Run.id == run_id))
        if parent_id is not None:
            await waits.lock(session, parent_id)
        run = await rule(session)
        if run is None:
            return False
        stopped = await after_end(session, engine, run)
    await cancel_workflows(engine, stopped)
    return True


async def after_end(session: AsyncSession, engine: EngineClient, run: Run) -> list[str]:
    """What follows the end of the run, which the session has just recorded (its parent's row locked first).

    Returns:
        The workflows of the descendants it cancelled: cancel them in the engine once the session commits.
    """
    now = clock.now()
    await _settle(session, run, now, locked=True)
    stopped: list[str] = []
    level = [run.id]
    for _ in range(run_tree.MAX_LEVELS):
        # A level is read only once the one above is cancelled: a child that a run was starting meanwhile
        # (under its row's lock, which the cancel waited for) is read too, and no child can start after.
        below = await run_tree.children_of(session, run.org_id, level)
        for descendant in below:
            if await run_states.cancel(session, run.org_id, descendant.id, now):
                await _settle(session, descendant, now)
                if descendant.workflow_id is not None:
                    stopped.append(descendant.workflow_id)
        level = [descendant.id for descendant in below]
        if not level:
            break
    if run.parent_run_id is not None:
        await waits.child_ended(session, engine, run)
    return stopped


async def _settle(session: AsyncSession, run: Run, now: datetime, *, locked: bool = False) -> None:
    # `locked`: the run is as this transaction's record of its end left it, so its sandbox state is current, and most
    # runs need no update.
    if not locked or run.runtime_state == "stopped":
        await session.execute(run_end.ARCHIVE_WORKSPACE, {"run_id": run.id})
    if run.parent_run_id is None:
        await session.execute(run_end.RETIRE_EPHEMERAL_AGENT, {"agent_id": run.agent_id, "now": now})


async def cancel_workflows(engine: EngineClient, workflow_ids: list[str]) -> None:
    """Cancel these workflows in the engine, so that none is started or resumed again."""
    for workflow_id in workflow_ids:
        await engine.cancel(workflow_id)
