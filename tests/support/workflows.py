"""A run's workflow as a test puts it: the run started as a worker starts it, DBOS's row as DBOS leaves it."""

from sqlalchemy import text

from agentruns import clock
from agentruns.schemas import events as payloads
from agentruns.storage.database import Database
from agentruns.storage.queries import audit
from agentruns.storage.queries.orphans import dbos_table
from tests.support.portal import AsyncBridge


async def start_run(db: Database, run_id: str) -> None:
    """Start the queued run as its workflow's start does (`audit.Record.starts_at`), without a sandbox."""
    at = clock.now()
    assert await audit.store(db, audit.Record(run_id, drafts=[payloads.run_started(run_id, at)], starts_at=at))


def set_workflow(bridge: AsyncBridge, workflow_id: str, status: str, owner: str | None) -> None:
    """Put DBOS's row of the workflow as DBOS leaves it: claimed by `owner`, re-enqueued by a recovery, cancelled."""

    async def update() -> None:
        async with bridge.db.write() as session:
            table = dbos_table(session, "workflow_status")
            await session.execute(
                text(f"UPDATE {table} SET status = :status, owner_xid = :owner WHERE workflow_uuid = :id"),  # noqa: S608
                {"status": status, "owner": owner, "id": workflow_id},
            )

    bridge.call(update)
