"""What API processes ask of the engine: enqueue a run's workflow inside their own transaction, and cancel it.

API processes never execute workflows; they talk to the DBOS tables of the shared database through a
`DBOSClient`, so an API process and a worker need not share a process, a disk or a host.
"""

from dbos import DBOSClient, EnqueueOptions
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from agentruns.engine.names import APP_NAME, QUEUE_NAME, WORKFLOW_NAME, WORKFLOW_VERSION
from agentruns.storage.database import system_database_url


class EngineClient:
    """A connection to the durable engine's tables for enqueueing and cancelling runs."""

    def __init__(self, database_url: str) -> None:
        self._client = DBOSClient(
            system_database_url=system_database_url(database_url), application_name=APP_NAME, lazy=True
        )

    async def enqueue_in(
        self, session: AsyncSession, *, run_id: str, org_id: str, workflow_id: str, resume: int = 0
    ) -> None:
        """Enqueue the run's workflow in the session's transaction: it exists if and only if that commits.

        `resume` N enqueues the workflow that resumes the run after its wait N instead.
        """
        await session.run_sync(
            lambda sync: self.enqueue_on(sync, run_id=run_id, org_id=org_id, workflow_id=workflow_id, resume=resume)
        )

    def enqueue_on(
        self, connection: Connection | Session, *, run_id: str, org_id: str, workflow_id: str, resume: int = 0
    ) -> None:
        """`enqueue_in` in the transaction of a Core connection (`Database.write_core`) or a sync session."""
        options: EnqueueOptions = {
            "queue_name": QUEUE_NAME,
            "workflow_name": WORKFLOW_NAME,
            "workflow_id": workflow_id,
            "app_version": WORKFLOW_VERSION,
            "queue_partition_key": org_id,
        }
        self._client.enqueue_in_transaction(connection, options, *((run_id, resume) if resume else (run_id,)))

    async def cancel(self, workflow_id: str) -> None:
        """Mark the workflow cancelled so that no worker starts or resumes it."""
        await self._client.cancel_workflow_async(workflow_id)

    def close(self) -> None:
        """Release the client's connections."""
        self._client.destroy()
