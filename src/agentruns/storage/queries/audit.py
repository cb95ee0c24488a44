"""Idempotent writes of a run's audit trail: each row is keyed by the run and its number, so a replay
after a crash writes nothing twice."""

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, LiteralString, cast

import psycopg
from dbos._error import DBOSWorkflowConflictIDError  # not exported; DBOS raises it when its own writes meet this
from sqlalchemy import ClauseElement, Compiled, Connection, Dialect, Row, Update, bindparam, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.events.hub import HUB
from agentruns.schemas.runs import RunStatus
from agentruns.storage.database import Database, DatabaseKind
from agentruns.storage.models import Base, JournalEntry, Run, RunLog, RunStep, UsageEntry
from agentruns.storage.queries import events
from agentruns.storage.queries.events import EventDraft
from agentruns.storage.queries.inserts import insert_once, insert_once_on, insert_once_pipelined


async def add_logs(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Store log chunks (`run_id`, `stream`, `number`, …)."""
    await insert_once(session, RunLog, rows)


async def set_runtime(session: AsyncSession, run_id: str, **values: Any) -> None:
    """Update the run's sandbox fields (`runtime_id`, `runtime_state`, `provider`)."""
    await session.execute(update(Run).where(Run.id == run_id).values(**values))


HANDED_OVER = "AR409"
"""The SQLSTATE `agentruns_hold_workflow` raises (migration 0007)."""


@dataclass(frozen=True, slots=True)
class Owner:
    """The workflow execution that writes a record: the run's workflow and the token DBOS wrote to the workflow's
    row (`owner_xid`) when this execution claimed it.

    A worker that stalls past its heartbeat (a long pause, a frozen VM) is taken for dead, and another takes its
    workflows over while it may still be running them. A record of such a superseded execution is refused, so that
    it stops before it sends another model request, as DBOS's own writes refuse it. The execution of a cancelled
    workflow still writes: it records how its run's sandbox stopped.
    """

    workflow_id: str
    token: str


@dataclass(frozen=True, slots=True)
class Record:
    """What the worker records of one model response or tool call of a run, or of its start, written in one
    transaction: the journal's entries, the audit rows, the run's sandbox fields, if any changed, and the events."""

    run_id: str
    journal: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    steps: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    usage: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    logs: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    runtime: dict[str, Any] = field(default_factory=dict[str, Any])
    drafts: list[EventDraft] = field(default_factory=list[EventDraft])
    owner: Owner | None = None
    """If set, the record is written only while this execution owns the run's workflow."""
    starts_at: datetime | None = None
    """If set, the record starts the run: queued → running at this time (its `run.status` event is the caller's
    draft), and is written only if the run is still queued."""


class _NotQueued(Exception):
    """The record starts a run that is no longer queued: its transaction is rolled back."""


async def store(db: Database, record: Record) -> bool:
    """Write the record in one transaction, then wake this process's streams of the run if an event was stored;
    False if the record starts the run and the run was no longer queued (cancelled meanwhile): nothing was written.

    This is the hottest write of a run, so it skips the ORM session: on SQLite it is one hop to the writer thread
    (`Database.write_core`); on PostgreSQL its statements go out together in psycopg's pipeline mode, one round
    trip where each statement took one.

    Raises:
        DBOSWorkflowConflictIDError: The record's `owner` no longer owns the workflow; nothing was written. A
            BaseException, as when DBOS raises it: the execution stops and DBOS waits for the new owner's outcome.
    """
    try:
        if db.kind is DatabaseKind.POSTGRESQL:
            stored = await _write_pipelined(db, record)
        else:
            stored = await db.write_core(functools.partial(_write, record=record))
    except _NotQueued:
        return False
    if stored:
        HUB.publish(record.run_id)
    return True


async def _write_pipelined(db: Database, record: Record) -> int:
    dialect = db.engine.dialect
    appended = None
    try:
        async with (
            db.psycopg_connection() as connection,
            connection.pipeline() as pipeline,
            connection.transaction(),
        ):
            if record.owner is not None:  # first: the hold precedes every write and fails the transaction
                hold = _compiled(dialect, _HOLD)
                await connection.execute(cast(LiteralString, hold.string), hold.construct_params(_held(record.owner)))
            appended = await _pipelined_rows(connection, pipeline, dialect, record)
    except psycopg.Error as exc:
        if record.owner is not None:
            _refuse_if_handed_over(exc, record.owner)
        raise
    return 0 if appended is None else appended.rowcount


async def _pipelined_rows(
    connection: psycopg.AsyncConnection[Any], pipeline: psycopg.AsyncPipeline, dialect: Dialect, record: Record
) -> psycopg.AsyncCursor[Any] | None:
    """Queue the record's statements on the pipeline; the cursor of the event insert, if there are events.

    Raises:
        _NotQueued: The record starts the run, which is not queued (known after one round trip, before the rest).
    """
    cursor = connection.cursor()
    if (run := _run_update(record)) is not None:
        compiled = _compiled(dialect, run.statement)
        await cursor.execute(cast(LiteralString, compiled.string), compiled.construct_params(run.params))
        if record.starts_at is not None:
            await pipeline.sync()
            if cursor.rowcount != 1:
                raise _NotQueued
    for model, rows in _inserted(record):
        await insert_once_pipelined(cursor, dialect, model, rows)
    if not record.drafts:
        return None
    return await events.append_pipelined(connection, dialect, record.run_id, record.drafts)


async def hold(session: AsyncSession, owner: Owner | None) -> None:
    """`store`'s check of its owner, in the session's transaction (`hold_on`).

    Raises:
        DBOSWorkflowConflictIDError: `owner` no longer owns its workflow.
    """
    if owner is not None:
        await session.run_sync(lambda sync: hold_on(sync.connection(), owner))


def hold_on(connection: Connection, owner: Owner | None) -> None:
    """`store`'s check of its owner, in the transaction of a Core connection; nothing without an owner.

    Raises:
        DBOSWorkflowConflictIDError: `owner` no longer owns its workflow.
    """
    if owner is None:
        return
    if connection.dialect.name != "postgresql":
        _check_holder(connection.execute(_HOLDER, {"workflow": owner.workflow_id}).first(), owner)
        return
    try:
        connection.execute(_HOLD, _held(owner))
    except DBAPIError as exc:
        if isinstance(exc.orig, psycopg.Error):
            _refuse_if_handed_over(exc.orig, owner)
        raise


def _refuse_if_handed_over(error: psycopg.Error, owner: Owner) -> None:
    """Raise DBOS's `DBOSWorkflowConflictIDError` for the error of `agentruns_hold_workflow` that refuses `owner`."""
    if error.sqlstate == HANDED_OVER:
        raise DBOSWorkflowConflictIDError(owner.workflow_id) from error


_HOLD = text("SELECT agentruns_hold_workflow(:workflow, :token)")
"""PostgreSQL's check of the owner, on both write paths (the pipeline, a Core connection)."""


def _held(owner: Owner) -> dict[str, str]:
    return {"workflow": owner.workflow_id, "token": owner.token}


_HOLDER = text("SELECT owner_xid, status FROM workflow_status WHERE workflow_uuid = :workflow")
"""SQLite's check of the owner: in a writer's transaction (BEGIN IMMEDIATE), no other writer, DBOS's hand-off
included, lands before it commits."""


def _check_holder(row: Row[str | None, str] | None, owner: Owner) -> None:
    """As agentruns_hold_workflow does on PostgreSQL (migration 0007), given the workflow's `owner_xid` and status."""
    holder: str | None = None if row is None else row[0]
    state: str | None = None if row is None else row[1]
    if holder != owner.token and state != "CANCELLED":
        raise DBOSWorkflowConflictIDError(owner.workflow_id)


def _write(connection: Connection, record: Record) -> int:
    hold_on(connection, record.owner)
    if (run := _run_update(record)) is not None:
        updated = connection.execute(run.statement, run.params).rowcount
        if record.starts_at is not None and updated != 1:
            raise _NotQueued
    for model, rows in _inserted(record):
        insert_once_on(connection, model, rows)
    return events.append_on(connection, record.run_id, record.drafts)


def _inserted(record: Record) -> tuple[tuple[type[Base], list[dict[str, Any]]], ...]:
    """The record's rows, by the model they are inserted as (once each)."""
    return (JournalEntry, record.journal), (RunStep, record.steps), (UsageEntry, record.usage), (RunLog, record.logs)


@dataclass(frozen=True, slots=True)
class _RunUpdate:
    statement: Update
    params: dict[str, Any]


def _run_update(record: Record) -> _RunUpdate | None:
    """The UPDATE of the run's row, if the record changes it: its sandbox fields, and its status if it starts it."""
    values = dict(record.runtime)
    if record.starts_at is not None:
        values |= {"status": RunStatus.RUNNING.value, "started_at": record.starts_at}
    if not values:
        return None
    statement = _run_update_statement(tuple(sorted(values)), starts=record.starts_at is not None)
    return _RunUpdate(statement, {f"new_{column}": value for column, value in values.items()} | {"run": record.run_id})


@functools.cache
def _run_update_statement(columns: tuple[str, ...], *, starts: bool) -> Update:
    """The UPDATE of these columns of the run `run` (`new_<column>` each), only while it is queued if it `starts` the
    run: built once per shape, as building it took longer than running it."""
    statement = update(Run).where(Run.id == bindparam("run"))
    if starts:
        statement = statement.where(Run.status == RunStatus.QUEUED.value)
    return statement.values({column: bindparam(f"new_{column}") for column in columns})


@functools.cache
def _compiled(dialect: Dialect, statement: ClauseElement) -> Compiled:
    """A statement of this module in the dialect's SQL, for psycopg's pipeline: compiled once."""
    return statement.compile(dialect=dialect)
