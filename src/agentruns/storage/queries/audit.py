"""Idempotent writes of a run's audit trail: each row is keyed by the run and its number, so a replay
after a crash writes nothing twice."""

import functools
from dataclasses import dataclass, field
from typing import Any, LiteralString, cast

from sqlalchemy import Connection, Update, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.events.hub import HUB
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


@dataclass(frozen=True, slots=True)
class Record:
    """What the worker records of one model response or tool call of a run, written in one transaction: the
    journal's entries, the audit rows, the run's sandbox fields, if any changed, and the events."""

    run_id: str
    journal: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    steps: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    usage: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    logs: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    runtime: dict[str, Any] = field(default_factory=dict[str, Any])
    drafts: list[EventDraft] = field(default_factory=list[EventDraft])


async def store(db: Database, record: Record) -> None:
    """Write the record in one transaction, then wake this process's streams of the run if an event was stored.

    This is the hottest write of a run, so it skips the ORM session: on SQLite it is one hop to the writer thread
    (`Database.write_core`); on PostgreSQL its statements go out together in psycopg's pipeline mode, one round
    trip where each statement took one."""
    if db.kind is DatabaseKind.POSTGRESQL:
        stored = await _write_pipelined(db, record)
    else:
        stored = await db.write_core(functools.partial(_write, record=record))
    if stored:
        HUB.publish(record.run_id)


async def _write_pipelined(db: Database, record: Record) -> int:
    dialect = db.engine.dialect
    appended = None
    async with db.psycopg_connection() as connection, connection.pipeline(), connection.transaction():
        cursor = connection.cursor()
        for model, rows in _inserted(record):
            await insert_once_pipelined(cursor, dialect, model, rows)
        if (runtime := _runtime_update(record)) is not None:
            compiled = runtime.compile(dialect=dialect)
            await cursor.execute(cast(LiteralString, compiled.string), compiled.construct_params())
        if record.drafts:
            appended = await events.append_pipelined(connection, dialect, record.run_id, record.drafts)
    return 0 if appended is None else appended.rowcount


def _write(connection: Connection, record: Record) -> int:
    for model, rows in _inserted(record):
        insert_once_on(connection, model, rows)
    if (runtime := _runtime_update(record)) is not None:
        connection.execute(runtime)
    return events.append_on(connection, record.run_id, record.drafts)


def _inserted(record: Record) -> tuple[tuple[type[Base], list[dict[str, Any]]], ...]:
    """The record's rows, by the model they are inserted as (once each)."""
    return (JournalEntry, record.journal), (RunStep, record.steps), (UsageEntry, record.usage), (RunLog, record.logs)


def _runtime_update(record: Record) -> Update | None:
    """The UPDATE of the run's sandbox fields, if the record changes any."""
    return update(Run).where(Run.id == record.run_id).values(**record.runtime) if record.runtime else None
