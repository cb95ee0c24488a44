"""Find runs that look active but whose durable workflow has ended: nothing will ever finish them; adopt the
queued workflows of an older workflow version, which no worker of this version would take; and, among the runs
a worker executes, find those to stop.

A waiting run has no workflow until it resumes (its last one ended when it began to wait), so it is not one.
"""

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

# DBOS statuses after which a workflow never runs again.
ENDED_WORKFLOW_STATUSES = ("SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED")


def dbos_table(session: AsyncSession, name: str) -> str:
    """DBOS's table `name` as the session's database names it: in schema `dbos` on PostgreSQL, unqualified in a
    SQLite file."""
    return name if session.get_bind().dialect.name == "sqlite" else f"dbos.{name}"


async def orphaned_runs(session: AsyncSession, limit: int = 100) -> Sequence[tuple[str, str]]:
    """(run id, workflow status) of queued or running runs whose workflow ended."""
    table = dbos_table(session, "workflow_status")
    query = text(
        f"SELECT runs.id, wf.status FROM runs JOIN {table} AS wf ON wf.workflow_uuid = runs.workflow_id "  # noqa: S608
        "WHERE runs.status IN ('queued', 'running') AND wf.status IN :ended LIMIT :limit"
    ).bindparams(bindparam("ended", expanding=True))
    rows = await session.execute(query, {"ended": list(ENDED_WORKFLOW_STATUSES), "limit": limit})
    return [(row[0], row[1]) for row in rows]


async def runs_to_stop(session: AsyncSession, run_ids: Sequence[str]) -> Sequence[tuple[str, bool]]:
    """(run id, whether it was cancelled) of the given runs that were cancelled, or whose workflow was ended from
    outside (by DBOS's own cancel, say): a worker executing them stops them."""
    table = dbos_table(session, "workflow_status")
    query = text(
        f"SELECT runs.id, runs.status = 'cancelled' FROM runs LEFT JOIN {table} AS wf "  # noqa: S608
        "ON wf.workflow_uuid = runs.workflow_id "
        "WHERE runs.id IN :ids AND (runs.status = 'cancelled' OR wf.status IN :ended)"
    ).bindparams(bindparam("ids", expanding=True), bindparam("ended", expanding=True))
    rows = await session.execute(query, {"ids": list(run_ids), "ended": list(ENDED_WORKFLOW_STATUSES)})
    return [(row[0], bool(row[1])) for row in rows]


async def adopt_unstarted_workflows(session: AsyncSession, queue: str, version: str) -> int:
    """Stamp with `version` the workflows still queued on `queue` under another version that never began (no DBOS
    step recorded, nor, since version 3, the start of the run that a first execution journals): they replay
    nothing, so this version runs them. How many there were.

    A workflow that began under another version needs a worker of that version (docs/deploy.md, upgrades).
    """
    workflows, steps = dbos_table(session, "workflow_status"), dbos_table(session, "operation_outputs")
    query = text(
        f"UPDATE {workflows} SET application_version = :version "  # noqa: S608
        f"WHERE queue_name = :queue AND status = 'ENQUEUED' AND application_version <> :version "
        f"AND NOT EXISTS (SELECT 1 FROM {steps} AS step WHERE step.workflow_uuid = {workflows}.workflow_uuid) "
        "AND NOT EXISTS (SELECT 1 FROM runs JOIN run_journal AS entry ON entry.run_id = runs.id "
        f"AND entry.execution = 0 WHERE runs.workflow_id = {workflows}.workflow_uuid)"
    )
    result = cast(CursorResult[Any], await session.execute(query, {"version": version, "queue": queue}))
    return result.rowcount


async def other_version_workflows(session: AsyncSession, executor_id: str, version: str) -> int:
    """How many workflows the executor left running that another workflow version began: only a worker of that
    version can resume them (docs/deploy.md, upgrading), so its row stays for such a worker to take over."""
    query = text(
        f"SELECT count(*) FROM {dbos_table(session, 'workflow_status')} "  # noqa: S608
        "WHERE executor_id = :executor AND status = 'PENDING' AND application_version <> :version"
    )
    return (await session.scalar(query, {"executor": executor_id, "version": version})) or 0
