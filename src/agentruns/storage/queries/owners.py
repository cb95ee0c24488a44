"""The check that a workflow execution still owns its run's workflow, which each of the run's writes makes."""

from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from dbos import error as dbos_error
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.storage import dbos_tables

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


async def hold(session: AsyncSession, owner: Owner | None) -> None:
    """`hold_on` in the session's transaction.

    Raises:
        DBOSWorkflowConflictIDError: `owner` no longer owns its workflow.
    """
    if owner is not None:
        await session.run_sync(lambda sync: hold_on(sync.connection(), owner))


def hold_on(connection: Connection, owner: Owner | None) -> None:
    """Check that `owner` owns its workflow, and keep it so until the transaction of this Core connection ends;
    nothing without an owner. On PostgreSQL, appending events can check it in the same statement (`events.append_on`).

    Raises:
        DBOSWorkflowConflictIDError: `owner` no longer owns its workflow.
    """
    if owner is None:
        return
    if connection.dialect.name != "postgresql":
        # In a writer's transaction (BEGIN IMMEDIATE), no other writer, DBOS's hand-off included, lands before it
        # commits.
        _check_holder(*dbos_tables.claim_of(connection, owner.workflow_id), owner)
        return
    with refused_if_handed_over(owner):
        connection.execute(HOLD, held(owner))


@contextmanager
def refused_if_handed_over(owner: Owner | None) -> Generator[None]:
    """Turn the error of `agentruns_hold_workflow` that refuses `owner`, from psycopg or through SQLAlchemy, into
    DBOS's `DBOSWorkflowConflictIDError`: a BaseException, as when DBOS raises it, so the execution stops."""
    try:
        yield
    except (DBAPIError, psycopg.Error) as error:
        cause = error.orig if isinstance(error, DBAPIError) else error
        if owner is not None and isinstance(cause, psycopg.Error) and cause.sqlstate == HANDED_OVER:
            raise dbos_error.DBOSWorkflowConflictIDError(owner.workflow_id) from error
        raise


HOLD = text("SELECT agentruns_hold_workflow(:workflow, :token)")
"""PostgreSQL's check of the owner (migration 0007), with the parameters `held` gives."""


def held(owner: Owner | None) -> dict[str, str | None]:
    """The parameters of `HOLD` (or of appending events) for `owner`: NULLs for none."""
    return {"workflow": None, "token": None} if owner is None else {"workflow": owner.workflow_id, "token": owner.token}


def _check_holder(holder: str | None, state: str | None, owner: Owner) -> None:
    """As agentruns_hold_workflow does on PostgreSQL (migration 0007), given the workflow's `owner_xid` and status."""
    if holder != owner.token and not dbos_tables.is_cancelled(state):
        raise dbos_error.DBOSWorkflowConflictIDError(owner.workflow_id)
