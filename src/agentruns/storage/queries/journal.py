"""Forget the journal entries that no workflow execution can replay any more (`JournalEntry`).

An execution's entries are needed until DBOS records that its workflow ended: until then a crash replays it,
and the entries spare its finished model requests. Afterwards nothing replays it (agentruns starts a new
execution to resume a run), so the entries are only weight.
"""

from collections.abc import Callable

from sqlalchemy import bindparam, delete, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.storage.models import JournalEntry
from agentruns.storage.queries.orphans import ENDED_WORKFLOW_STATUSES, dbos_table


async def forget_ended(session: AsyncSession, workflow_of: Callable[[str, int], str], limit: int = 500) -> int:
    """Delete the entries of up to `limit` executions whose workflow (named by `workflow_of(run id, execution)`)
    ended; how many executions they were."""
    executions = (
        await session.execute(select(JournalEntry.run_id, JournalEntry.execution).distinct().limit(limit))
    ).all()
    if not executions:
        return 0
    by_workflow = {workflow_of(run_id, execution): (run_id, execution) for run_id, execution in executions}
    ended_query = text(
        f"SELECT workflow_uuid FROM {dbos_table(session, 'workflow_status')} "  # noqa: S608
        "WHERE workflow_uuid IN :ids AND status IN :ended"
    ).bindparams(bindparam("ids", expanding=True), bindparam("ended", expanding=True))
    ended = await session.scalars(ended_query, {"ids": list(by_workflow), "ended": list(ENDED_WORKFLOW_STATUSES)})
    forgotten = [by_workflow[workflow_id] for workflow_id in ended]
    if forgotten:
        await session.execute(
            delete(JournalEntry).where(tuple_(JournalEntry.run_id, JournalEntry.execution).in_(forgotten))
        )
    return len(forgotten)
