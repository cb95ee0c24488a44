"""DBOS's row of a workflow, put by a test as DBOS itself leaves it."""

from sqlalchemy import text

from agentruns.storage.queries.orphans import dbos_table
from tests.support.portal import AsyncBridge


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
