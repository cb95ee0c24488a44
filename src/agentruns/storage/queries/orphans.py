"""Find runs that look active but whose durable workflow has ended: nothing will ever finish them; and, among
the runs a worker executes, those to stop.

A waiting run has no workflow until it resumes (its last one ended when it began to wait), so it is not one.
"""

from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

# DBOS statuses after which a workflow never runs again.
ENDED_WORKFLOW_STATUSES = ("SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED")


def _workflow_table(session: AsyncSession) -> str:
    # DBOS keeps its tables in schema `dbos` on PostgreSQL and unqualified in a SQLite file.
    return "workflow_status" if session.get_bind().dialect.name == "sqlite" else "dbos.workflow_status"


async def orphaned_runs(session: AsyncSession, limit: int = 100) -> Sequence[tuple[str, str]]:
    """(run id, workflow status) of queued or running runs whose workflow ended."""
    table = _workflow_table(session)
    query = text(
        f"SELECT runs.id, wf.status FROM runs JOIN {table} AS wf ON wf.workflow_uuid = runs.workflow_id "  # noqa: S608
        "WHERE runs.status IN ('queued', 'running') AND wf.status IN :ended LIMIT :limit"
    ).bindparams(bindparam("ended", expanding=True))
    rows = await session.execute(query, {"ended": list(ENDED_WORKFLOW_STATUSES), "limit": limit})
    return [(row[0], row[1]) for row in rows]


async def runs_to_stop(session: AsyncSession, run_ids: Sequence[str]) -> Sequence[tuple[str, bool]]:
    """(run id, whether it was cancelled) of the given runs that were cancelled, or whose workflow was ended from
    outside (by DBOS's own cancel, say): a worker executing them stops them."""
    table = _workflow_table(session)
    query = text(
        f"SELECT runs.id, runs.status = 'cancelled' FROM runs LEFT JOIN {table} AS wf "  # noqa: S608
        "ON wf.workflow_uuid = runs.workflow_id "
        "WHERE runs.id IN :ids AND (runs.status = 'cancelled' OR wf.status IN :ended)"
    ).bindparams(bindparam("ids", expanding=True), bindparam("ended", expanding=True))
    rows = await session.execute(query, {"ids": list(run_ids), "ended": list(ENDED_WORKFLOW_STATUSES)})
    return [(row[0], bool(row[1])) for row in rows]
