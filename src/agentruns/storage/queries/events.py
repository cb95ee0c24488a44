"""The run event log: append events with their run's next number, idempotently, and read them in order.

Events are appended in the transaction that writes what they report. The run's row is locked first, so
concurrent writers of one run (a worker recording a step, an API process cancelling) take numbers one
after the other, and a number is visible only once every smaller one is.
"""

import functools
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import Connection, Dialect, Text, bindparam, exists, func, insert, select, text
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns import clock
from agentruns.schemas.events import EventDraft
from agentruns.schemas.runs import RunStatus
from agentruns.storage import commits
from agentruns.storage.database import on_commit
from agentruns.storage.models import Run, RunEvent
from agentruns.storage.queries import owners, pipelined
from agentruns.storage.queries.inserts import table_of

NOTIFY_CHANNEL = "agentruns_events"
"""The PostgreSQL channel on which a committed append names its run and its sender: `<run id> <sender>` (written out in
`agentruns_append_events`, migration 0008, which notifies)."""

_senders: dict[int, str] = {}


def sender() -> str:
    """This process's name in its notifications: its own commits wake its streams already (`append`), so its
    listener skips them. Random, as process ids repeat across hosts; by process id, as a fork is another."""
    pid = os.getpid()
    name = _senders.get(pid)
    if name is None:
        name = _senders[pid] = secrets.token_hex(8)
    return name


def notified_run(payload: str) -> str | None:
    """The run a notification names, unless this process sent it (a payload of only a run id: anyone's)."""
    run_id, _, from_process = payload.partition(" ")
    return None if from_process == sender() else run_id


TERMINAL_EVENTS = frozenset({"run.completed", "run.failed", "run.cancelled", "run.timeout"})


# PostgreSQL: one statement (migration 0008) checks the writer's hold on its workflow, if it has one, locks the run's
# row so that this run's appends take turns, queues the NOTIFY that wakes other processes' streams at commit (a wake-up
# with nothing new costs a stream one read), and numbers and stores the drafts: a draft whose source is stored already
# (only on a replay after a crash) is left out and the others numbered on; none is stored once the run has ended, but
# for a `closing` one. Built once: building it per call cost more than running it.
_ENDED = [status.value for status in RunStatus if status.is_terminal]
_APPEND = text(
    "SELECT agentruns_append_events(:run_id, :notification, :created_at, CAST(:names AS TEXT[]), "
    "CAST(:sources AS TEXT[]), CAST(:data AS TEXT[]), :closing, CAST(:ended AS TEXT[]), :workflow, :token)"
)
# SQLite: BEGIN IMMEDIATE (`Database.write`) holds the database's write lock already: one statement reads the
# status, the last number and whether any draft was stored already; then one inserts.
_OF_SOURCES = (RunEvent.run_id == bindparam("run_id"), RunEvent.source.in_(bindparam("sources", expanding=True)))
_LAST_SEQ = select(func.max(RunEvent.seq)).where(RunEvent.run_id == bindparam("run_id")).scalar_subquery()
_STATUS_AND_NUMBERS = select(Run.status, _LAST_SEQ, exists().where(*_OF_SOURCES)).where(Run.id == bindparam("run_id"))
_STORED_SOURCES = select(RunEvent.source).where(*_OF_SOURCES)
_INSERT = insert(table_of(RunEvent))


async def append(session: AsyncSession, run_id: str, drafts: Sequence[EventDraft], *, closing: bool = False) -> int:
    """Append the drafts not yet stored; returns how many were. Once the run has ended, only its
    `closing` (terminal) event is appended, so the terminal event is always the run's last."""
    if not drafts:
        return 0
    stored = await session.run_sync(lambda sync: append_on(sync.connection(), run_id, drafts, closing=closing))
    if stored:
        on_commit(
            session, ("streams of", run_id), functools.partial(commits.events_stored, run_id)
        )  # this process's streams
    return stored


def append_on(
    connection: Connection,
    run_id: str,
    drafts: Sequence[EventDraft],
    *,
    closing: bool = False,
    owner: owners.Owner | None = None,
) -> int:
    """`append` on a Core connection (`Database.write_core`), whose caller wakes this process's streams of the run
    (`commits.events_stored`) once the transaction commits, if any event was stored; with `owner`, the transaction
    holds the owner's workflow too (`owners.hold_on`: on PostgreSQL in the same statement).

    Raises:
        DBOSWorkflowConflictIDError: `owner` no longer owns its workflow.
    """
    if connection.dialect.name != "postgresql":
        owners.hold_on(connection, owner)
        return _append_sqlite(connection, run_id, drafts, closing=closing) if drafts else 0
    if not drafts:
        owners.hold_on(connection, owner)
        return 0
    with owners.refused_if_handed_over(owner):
        return connection.execute(_APPEND, _append_params(run_id, drafts, closing=closing, owner=owner)).scalar_one()


def _accepts(status: str | None, *, closing: bool) -> bool:
    return status is not None and (closing or not RunStatus(status).is_terminal)


def _append_params(
    run_id: str, drafts: Sequence[EventDraft], *, closing: bool, owner: owners.Owner | None
) -> dict[str, Any]:
    return {"run_id": run_id, "notification": f"{run_id} {sender()}", "created_at": clock.now(),
            "names": [draft.name for draft in drafts], "sources": [draft.source for draft in drafts],
            "data": [json.dumps(draft.data) for draft in drafts], "closing": closing, "ended": _ENDED,
            **owners.held(owner)}  # fmt: skip


async def append_pipelined(
    connection: psycopg.AsyncConnection[Any],
    dialect: Dialect,
    run_id: str,
    drafts: Sequence[EventDraft],
    owner: owners.Owner | None = None,
    *,
    closing: bool = False,
) -> psycopg.AsyncCursor[Any]:
    """`append_on` through psycopg itself, for a connection in pipeline mode (its statement goes out with the others of
    the transaction); returns its cursor, whose one row, once the pipeline has synced, holds how many events were
    stored. A refused `owner` fails the transaction with psycopg's error (`owners.refused_if_handed_over`)."""
    params = _append_params(run_id, drafts, closing=closing, owner=owner)
    return await pipelined.execute(connection, dialect, _APPEND, params)


def _append_sqlite(connection: Connection, run_id: str, drafts: Sequence[EventDraft], *, closing: bool) -> int:
    params = {"run_id": run_id, "sources": [draft.source for draft in drafts if draft.source is not None]}
    row = connection.execute(_STATUS_AND_NUMBERS, params).first()
    status, last, seen = row if row is not None else (None, 0, False)
    if not _accepts(status, closing=closing):
        return 0
    if seen:
        known = set(connection.execute(_STORED_SOURCES, params).scalars())
        drafts = [draft for draft in drafts if draft.source is None or draft.source not in known]
        if not drafts:
            return 0
    last = last or 0
    now = clock.now()
    rows = [
        {"run_id": run_id, "seq": last + offset, "name": draft.name, "source": draft.source, "data": draft.data,
         "created_at": now}
        for offset, draft in enumerate(drafts, start=1)
    ]  # fmt: skip
    connection.execute(_INSERT, rows)
    return len(rows)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A stored event as a stream reads it: its payload as the JSON text the database holds, not decoded."""

    seq: int
    name: str
    data_json: str
    created_at: datetime


async def stored_after(session: AsyncSession, run_id: str, seq: int, *, limit: int) -> list[StoredEvent]:
    """The run's events numbered above `seq`, in order, at most `limit` of them, without ORM objects."""
    query = (
        select(RunEvent.seq, RunEvent.name, sql_cast(RunEvent.data, Text), RunEvent.created_at)
        .where(RunEvent.run_id == run_id, RunEvent.seq > seq)
        .order_by(RunEvent.seq)
        .limit(limit)
    )
    return [
        StoredEvent(seq, name, data_json, created_at)
        for seq, name, data_json, created_at in await session.execute(query)
    ]


async def last(session: AsyncSession, run_id: str) -> RunEvent | None:
    """The run's last event, if it has any."""
    query = select(RunEvent).where(RunEvent.run_id == run_id).order_by(RunEvent.seq.desc()).limit(1)
    return await session.scalar(query)
