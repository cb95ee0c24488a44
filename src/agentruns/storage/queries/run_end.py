"""A run's end as its own workflow records it when no other run is involved, without an ORM session.

Most runs end so: a top-level run without child runs. Its end is written as the step's records are (one hop to
SQLite's writer thread; on PostgreSQL, statements sent together in psycopg's pipeline mode, two round trips), where
the general end (`engine/endings.py`), which also cancels descendants and answers a waiting parent, takes an ORM
session, a greenlet per statement and about twice the statements (9 against 5). What follows the end is the same on both
paths: the status event, the watchers' webhooks, the ephemeral agent of an `execute` run retired, a stopped
workspace shown `archived`.
"""

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, Connection, Update, bindparam, exists, literal_column, update
from sqlalchemy.orm import InstrumentedAttribute, aliased

from agentruns import clock
from agentruns.schemas import events as payloads
from agentruns.storage import commits
from agentruns.storage.database import Database, DatabaseKind
from agentruns.storage.models import Agent, Run, RunLog, WebhookDelivery
from agentruns.storage.queries import events, owners, pipelined, webhooks
from agentruns.storage.queries.inserts import insert_once_on, insert_once_pipelined
from agentruns.storage.queries.run_states import ACTIVE


@dataclass(frozen=True, slots=True)
class Ending:
    """How the run ends (`run_states.completed` or `failed`), its sandbox's last fields and its last log lines, and the
    workflow execution that records it (`owners.Owner`)."""

    run_id: str
    values: dict[str, Any]
    runtime: dict[str, Any]
    logs: list[dict[str, Any]]
    owner: owners.Owner | None = None


class _Declined(Exception):
    """The run has a parent or children, or has ended already: its transaction is rolled back."""


async def end_alone(db: Database, ending: Ending) -> bool:
    """Record the run's end and what follows it in one transaction, if the run is active, top-level and childless;
    False if not: nothing was written, and the caller ends the run the general way.

    Raises:
        DBOSWorkflowConflictIDError: The ending's owner no longer owns the run's workflow; nothing was written.
    """
    try:
        if db.kind is DatabaseKind.POSTGRESQL:
            appended, scheduled = await _end_pipelined(db, ending)
        else:
            appended, scheduled = await db.write_core(functools.partial(_end, ending=ending))
    except _Declined:
        return False
    if appended:
        commits.events_stored(ending.run_id)
    if scheduled:
        commits.deliveries_scheduled()
    return True


class _Ended(NamedTuple):
    """What the end's UPDATE returns (`_ENDED`): what its event and webhooks show, and what follows the end needs; by
    name, as a `Run` has them."""

    id: str
    org_id: str
    agent_id: str
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    output: str | None
    error_code: str | None
    error_message: str | None
    runtime_state: str | None


_ENDED: tuple[InstrumentedAttribute[Any], ...] = tuple(getattr(Run, name) for name in _Ended._fields)
_ENDED_TYPES = tuple(column.type for column in _ENDED)
_CHILD = aliased(Run)
_CHILDLESS = ~exists().where(_CHILD.org_id == Run.org_id, _CHILD.parent_run_id == Run.id)


def _end(connection: Connection, ending: Ending) -> tuple[int, int]:
    """The statements of `end_alone` on a Core connection; how many events and webhook deliveries it stored."""
    statement, params = _ending_statement(ending)
    row = connection.execute(statement, params).first()
    if row is None:
        raise _Declined
    run = _Ended._make(row)
    insert_once_on(connection, RunLog, ending.logs)
    now = clock.now()
    appended = events.append_on(connection, run.id, [payloads.status_changed(run, now)], closing=True,
                                owner=ending.owner)  # fmt: skip  # checks the owner
    scheduled = webhooks.schedule_on(connection, run, now)
    connection.execute(RETIRE_EPHEMERAL_AGENT, {"agent_id": run.agent_id, "now": now})
    if run.runtime_state == "stopped":
        connection.execute(ARCHIVE_WORKSPACE, {"run_id": run.id})
    return appended, scheduled


async def _end_pipelined(db: Database, ending: Ending) -> tuple[int, int]:
    """The statements of `end_alone` on PostgreSQL in two round trips, where each took one: the end and the watchers
    without a delivery, then the rest with the COMMIT (the status event and the deliveries show the ended row)."""
    dialect = db.engine.dialect
    statement, params = _ending_statement(ending)
    with owners.refused_if_handed_over(ending.owner):
        async with db.pipelined_transaction() as (connection, pipeline):
            ended = await pipelined.execute(connection, dialect, statement, params)
            unserved = await pipelined.execute(connection, dialect, webhooks.UNSERVED, {"run_id": ending.run_id})
            await pipeline.sync()
            row = await ended.fetchone()
            if row is None:
                raise _Declined
            run = _Ended._make(pipelined.decoded(dialect, _ENDED_TYPES, row))
            now = clock.now()
            deliveries = webhooks.deliveries(run, await unserved.fetchall(), now)
            await insert_once_pipelined(connection.cursor(), dialect, RunLog, ending.logs)
            appended = await events.append_pipelined(connection, dialect, run.id, [payloads.status_changed(run, now)],
                                                     ending.owner, closing=True)  # fmt: skip  # checks the owner
            await insert_once_pipelined(connection.cursor(), dialect, WebhookDelivery, deliveries)
            await pipelined.execute(connection, dialect, RETIRE_EPHEMERAL_AGENT, {"agent_id": run.agent_id, "now": now})
            if run.runtime_state == "stopped":
                await pipelined.execute(connection, dialect, ARCHIVE_WORKSPACE, {"run_id": run.id})
        stored = await appended.fetchone()  # synced at the end of the transaction
    return (0 if stored is None else stored[0]), len(deliveries)


def _ending_statement(ending: Ending) -> tuple[Update, dict[str, Any]]:
    """The end's UPDATE (`_ended`) for the ending's values and its parameters."""
    values = ending.values | ending.runtime
    # SQL expressions (a CASE) are part of the statement; plain values are its parameters.
    shape: list[tuple[str, ColumnElement[Any] | None]] = []
    params: dict[str, Any] = {"run": ending.run_id}
    for column, value in sorted(values.items()):
        if isinstance(value, ColumnElement):
            shape.append((column, cast(ColumnElement[Any], value)))
        else:
            shape.append((column, None))
            params[f"new_{column}"] = value
    return _ended(tuple(shape)), params


_ACTIVE = Run.status.in_([literal_column(f"'{status.value}'") for status in ACTIVE])
"""The run is active: its statuses written out, where `in_(ACTIVE)` would be a parameter SQLAlchemy expands at each
execution, so that the statement compiles once to SQL psycopg runs as it is (`pipelined`)."""


@functools.lru_cache(maxsize=64)  # bounded: an expression is a key by identity
def _ended(shape: tuple[tuple[str, ColumnElement[Any] | None], ...]) -> Update:
    """The end of the run `run`, only if it is active, top-level and childless, returning `_ENDED`: each column of
    `shape` set to its expression, or to its parameter `new_<column>`. Built once per shape, as building it took
    longer than running it."""
    values: dict[str, ColumnElement[Any]] = {
        column: bindparam(f"new_{column}") if expression is None else expression for column, expression in shape
    }
    statement = update(Run).where(Run.id == bindparam("run"), _ACTIVE, Run.parent_run_id.is_(None), _CHILDLESS)
    return cast(Update, statement.values(values).returning(*_ENDED))  # typed by the number of columns, unknown here


RETIRE_EPHEMERAL_AGENT = (
    update(Agent)
    .where(Agent.id == bindparam("agent_id"), Agent.ephemeral.is_(True), Agent.is_active.is_(True))
    .values(is_active=False, deleted_at=bindparam("now"), updated_at=bindparam("now"))
)
"""Delete the agent `agent_id` if it is the ephemeral one that `execute` made for the run that just ended (a
top-level run: its own child runs do not count)."""

ARCHIVE_WORKSPACE = (
    update(Run).where(Run.id == bindparam("run_id"), Run.runtime_state == "stopped").values(runtime_state="archived")
)
"""Show the workspace of the run `run_id`, which ended while waiting (its processes stopped), as `archived`: it is
kept as any ended run's is, and the workspace sweep deletes it in time."""
