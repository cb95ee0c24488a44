"""DBOS's own tables as agentruns reads and writes them: the only statements on them outside the migrations.

DBOS has no public API for what these statements do in agentruns's own transactions: join a run to its
workflow's status, check an execution's claim (`owner_xid`), adopt the queued workflows of an older workflow
version. So the columns they use are declared here, and `tests/storage/test_dbos_tables.py` compares them with
the tables DBOS makes, on SQLite and PostgreSQL. On a DBOS upgrade, re-check that these columns keep their
meaning, that the statuses are still `dbos.WorkflowStatusString`'s, that a workflow that began has a row in
`operation_outputs` or a journal entry, and that `agentruns_hold_workflow` (migration 0007) still reads the
same columns. What agentruns calls of DBOS past its public API at run time is in `engine/dbos_bridge.py`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from dbos import WorkflowStatusString
from sqlalchemy import Column, Connection, CursorResult, MetaData, Table, Text, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.storage.models import JournalEntry, Run

ENDED_WORKFLOW_STATUSES = tuple(
    status.value
    for status in (
        WorkflowStatusString.SUCCESS,
        WorkflowStatusString.ERROR,
        WorkflowStatusString.CANCELLED,
        WorkflowStatusString.MAX_RECOVERY_ATTEMPTS_EXCEEDED,
    )
)
"""DBOS statuses after which a workflow never runs again."""

_PENDING, _ENQUEUED, _CANCELLED = (
    WorkflowStatusString.PENDING.value,
    WorkflowStatusString.ENQUEUED.value,
    WorkflowStatusString.CANCELLED.value,
)
_ACTIVE_RUN_STATUSES = ("queued", "running")


@dataclass(frozen=True, slots=True)
class DbosTables:
    """The DBOS tables agentruns uses, with only the columns it uses (DBOS owns the rest)."""

    workflow_status: Table
    """One row per workflow: its status, the executor and version that run it, its queue, its claim."""
    operation_outputs: Table
    """One row per step a workflow recorded."""


def _declare(schema: str | None) -> DbosTables:
    metadata = MetaData(schema=schema)
    return DbosTables(
        workflow_status=Table(
            "workflow_status",
            metadata,
            Column("workflow_uuid", Text, primary_key=True),
            Column("status", Text),
            Column("executor_id", Text),
            Column("application_version", Text),
            Column("queue_name", Text),
            Column("owner_xid", Text),  # the token of the execution that claimed the workflow last
        ),
        operation_outputs=Table("operation_outputs", metadata, Column("workflow_uuid", Text)),
    )


# DBOS keeps its tables in schema `dbos` on PostgreSQL, and unqualified in a SQLite file.
_BY_DIALECT = {"sqlite": _declare(None), "postgresql": _declare("dbos")}


def dbos_tables(dialect: str) -> DbosTables:
    """DBOS's tables as a database of `dialect` (`sqlite` or `postgresql`) names them."""
    return _BY_DIALECT[dialect]


def tables_of(session: AsyncSession) -> DbosTables:
    """DBOS's tables as the session's database names them."""
    return dbos_tables(session.get_bind().dialect.name)


async def orphaned_runs(session: AsyncSession, limit: int = 100) -> Sequence[tuple[str, str]]:
    """(run id, workflow status) of queued or running runs whose workflow ended: nothing will ever finish them.

    A waiting run has no workflow until it resumes (its last one ended when it began to wait), so it is not one.
    """
    workflows = tables_of(session).workflow_status
    query = (
        select(Run.id, workflows.c.status)
        .join(workflows, workflows.c.workflow_uuid == Run.workflow_id)
        .where(Run.status.in_(_ACTIVE_RUN_STATUSES), workflows.c.status.in_(ENDED_WORKFLOW_STATUSES))
        .limit(limit)
    )
    return [(row[0], row[1]) for row in await session.execute(query)]


async def runs_to_stop(session: AsyncSession, run_ids: Sequence[str]) -> Sequence[tuple[str, bool]]:
    """(run id, whether it was cancelled) of the given runs that were cancelled, or whose workflow was ended from
    outside (by DBOS's own cancel, say): a worker executing them stops them."""
    workflows = tables_of(session).workflow_status
    cancelled = Run.status == "cancelled"
    query = (
        select(Run.id, cancelled)
        .outerjoin(workflows, workflows.c.workflow_uuid == Run.workflow_id)
        .where(Run.id.in_(list(run_ids)), or_(cancelled, workflows.c.status.in_(ENDED_WORKFLOW_STATUSES)))
    )
    return [(row[0], bool(row[1])) for row in await session.execute(query)]


async def ended_workflows(session: AsyncSession, workflow_ids: Sequence[str]) -> Sequence[str]:
    """Those of `workflow_ids` whose workflow ended: DBOS never runs them again."""
    workflows = tables_of(session).workflow_status
    query = select(workflows.c.workflow_uuid).where(
        workflows.c.workflow_uuid.in_(list(workflow_ids)), workflows.c.status.in_(ENDED_WORKFLOW_STATUSES)
    )
    return list(await session.scalars(query))


async def adopt_unstarted_workflows(session: AsyncSession, queue: str, version: str) -> int:
    """Stamp with `version` the workflows still queued on `queue` under another version that never began (no DBOS
    step recorded, nor, since version 3, the start of the run that a first execution journals): they replay
    nothing, so this version runs them. How many there were.

    A workflow that began under another version needs a worker of that version (docs/deploy.md, upgrades).
    """
    tables = tables_of(session)
    workflows, steps = tables.workflow_status, tables.operation_outputs.alias("step")
    began_a_step = exists().where(steps.c.workflow_uuid == workflows.c.workflow_uuid)
    journaled_its_start = (
        exists()
        .where(JournalEntry.run_id == Run.id, JournalEntry.execution == 0)
        .where(Run.workflow_id == workflows.c.workflow_uuid)
    )
    query = (
        update(workflows)
        .where(
            workflows.c.queue_name == queue,
            workflows.c.status == _ENQUEUED,
            workflows.c.application_version != version,
            ~began_a_step,
            ~journaled_its_start,
        )
        .values(application_version=version)
    )
    result = cast(CursorResult[Any], await session.execute(query))
    return result.rowcount


async def other_version_workflows(session: AsyncSession, executor_id: str, version: str) -> int:
    """How many workflows the executor left running that another workflow version began: only a worker of that
    version can resume them (docs/deploy.md, upgrading), so its row stays for such a worker to take over."""
    workflows = tables_of(session).workflow_status
    query = (
        select(func.count())
        .select_from(workflows)
        .where(
            workflows.c.executor_id == executor_id,
            workflows.c.status == _PENDING,
            workflows.c.application_version != version,
        )
    )
    return (await session.scalar(query)) or 0


def claim_of(connection: Connection, workflow_id: str) -> tuple[str | None, str | None]:
    """The workflow's `owner_xid` (the token of the execution that claimed it last) and status; (None, None)
    when it has no row. SQLite's check of a claim (`owners.hold_on`); migration 0007 does it on PostgreSQL."""
    workflows = dbos_tables(connection.dialect.name).workflow_status
    query = select(workflows.c.owner_xid, workflows.c.status).where(workflows.c.workflow_uuid == workflow_id)
    row = connection.execute(query).first()
    return (None, None) if row is None else (row[0], row[1])


def is_cancelled(status: str | None) -> bool:
    """Whether a workflow of `status` was cancelled: its execution still writes how its run's sandbox stopped."""
    return status == _CANCELLED
