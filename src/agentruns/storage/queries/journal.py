"""Forget the journal entries that no workflow execution can replay any more (`JournalEntry`).

An execution's entries are needed until DBOS records that its workflow ended: until then a crash replays it,
and the entries spare its finished model requests. Afterwards nothing replays it (agentruns starts a new
execution to resume a run), so the entries are only weight.
"""

from collections.abc import Callable

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.storage.dbos_tables import ended_workflows
from agentruns.storage.models import JournalEntry

Execution = tuple[str, int]
"""A workflow execution: (run id, execution number)."""


async def forget_ended(
    session: AsyncSession, workflow_of: Callable[[str, int], str], *, after: Execution | None = None, limit: int = 500
) -> tuple[int, Execution | None]:
    """Delete the entries of the executions whose workflow (named by `workflow_of(run id, execution)`) ended,
    among the next `limit` executions after `after` in key order; how many were forgotten, and where the next
    look starts (None: from the first again), so that a journal of many executions in flight is gone through.
    """
    key = tuple_(JournalEntry.run_id, JournalEntry.execution)
    query = select(JournalEntry.run_id, JournalEntry.execution).distinct().order_by(*key.clauses).limit(limit)
    if after is not None:
        query = query.where(key > tuple_(*after))
    executions: list[Execution] = [(run_id, execution) for run_id, execution in await session.execute(query)]
    if not executions:
        return 0, None
    by_workflow = {workflow_of(run_id, execution): (run_id, execution) for run_id, execution in executions}
    forgotten = [by_workflow[workflow_id] for workflow_id in await ended_workflows(session, list(by_workflow))]
    if forgotten:
        await session.execute(delete(JournalEntry).where(key.in_(forgotten)))
    return len(forgotten), executions[-1] if len(executions) == limit else None
