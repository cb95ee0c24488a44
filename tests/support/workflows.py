"""A run's workflow as a test puts it: the run started as a worker starts it, DBOS's row as DBOS leaves it."""

from sqlalchemy import update as update_statement

from agentruns import clock
from agentruns.schemas import events as payloads
from agentruns.storage.database import Database
from agentruns.storage.dbos_tables import tables_of
from agentruns.storage.queries import audit
from tests.support.portal import AsyncBridge


async def start_run(db: Database, run_id: str) -> None:
    """Start the queued run as its workflow's start does (`audit.Record.starts_at`), without a sandbox."""
    at = clock.now()
    assert await audit.store(db, audit.Record(run_id, drafts=[payloads.run_started(run_id, at)], starts_at=at))


def set_workflow(bridge: AsyncBridge, workflow_id: str, status: str, owner: str | None) -> None:
    """Put DBOS's row of the workflow as DBOS leaves it: claimed by `owner`, re-enqueued by a recovery, cancelled."""

    async def update() -> None:
        async with bridge.db.write() as session:
            table = tables_of(session).workflow_status
            await session.execute(
                update_statement(table)
                .where(table.c.workflow_uuid == workflow_id)
                .values(status=status, owner_xid=owner)
            )

    bridge.call(update)
