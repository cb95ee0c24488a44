"""Idempotent writes of a run's audit trail: each row is keyed by the run and its number, so a replay
after a crash writes nothing twice."""

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import Connection, Dialect, Update, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.schemas.events import EventDraft
from agentruns.schemas.runs import RunStatus
from agentruns.storage import commits
from agentruns.storage.database import Database, DatabaseKind
from agentruns.storage.models import Base, JournalEntry, Run, RunLog, RunStep, UsageEntry
from agentruns.storage.queries import events, owners, pipelined
from agentruns.storage.queries.inserts import insert_once, insert_once_on, insert_once_pipelined


async def add_logs(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Store log chunks (`run_id`, `stream`, `number`, …)."""
    await insert_once(session, RunLog, rows)


async def set_runtime(session: AsyncSession, run_id: str, **values: Any) -> None:
    """Update the run's sandbox fields (`runtime_id`, `runtime_state`, `provider`)."""
    await session.execute(update(Run).where(Run.id == run_id).values(**values))


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
    owner: owners.Owner | None = None
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
        commits.events_stored(record.run_id)
    return True


async def _write_pipelined(db: Database, record: Record) -> int:
    dialect = db.engine.dialect
    with owners.refused_if_handed_over(record.owner):
        async with db.pipelined_transaction() as (connection, pipeline):
            if (owner := _held_apart(record)) is not None:  # first: it precedes every write
                await pipelined.execute(connection, dialect, owners.HOLD, owners.held(owner))
            appended = await _pipelined_rows(connection, pipeline, dialect, record)
        row = None if appended is None else await appended.fetchone()  # synced at the end of the transaction
    return 0 if row is None else row[0]


def _held_apart(record: Record) -> owners.Owner | None:
    """The owner whose hold is a statement of its own, first; None if the events' statement checks it (on PostgreSQL;
    a record that starts the run checks it first, before it learns whether the run is still queued: a superseded
    execution must fail, not take the run for cancelled and discard the new owner's workspace)."""
    return record.owner if record.starts_at is not None or not record.drafts else None


async def _pipelined_rows(
    connection: psycopg.AsyncConnection[Any], pipeline: psycopg.AsyncPipeline, dialect: Dialect, record: Record
) -> psycopg.AsyncCursor[Any] | None:
    """Queue the record's statements on the pipeline; the cursor of the events' statement, if there are events.

    Raises:
        _NotQueued: The record starts the run, which is not queued (known after one round trip, before the rest).
    """
    if (run := _run_update(record)) is not None:
        cursor = await pipelined.execute(connection, dialect, run.statement, run.params)
        if record.starts_at is not None:
            await pipeline.sync()
            if cursor.rowcount != 1:
                raise _NotQueued
    cursor = connection.cursor()
    for model, rows in _inserted(record):
        await insert_once_pipelined(cursor, dialect, model, rows)
    if not record.drafts:
        return None
    owner = None if _held_apart(record) is not None else record.owner
    return await events.append_pipelined(connection, dialect, record.run_id, record.drafts, owner)


def _write(connection: Connection, record: Record) -> int:
    owners.hold_on(connection, record.owner)
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
