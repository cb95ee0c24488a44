"""A worker's heartbeat in the database and its takeover of dead workers' runs, on connections of their own.

The heart must not share the pool the runs use: a worker busy with a thousand runs queues its transactions
for that pool's connections for seconds, and a heartbeat queued behind them would make a live worker look
dead to the others, which would then execute its runs a second time. Nor does a worker ever take over its
own runs: a late beat of its own means it is busy, not gone.

A takeover claims the dead worker's row by beating it (a conditional UPDATE: one of several workers that
look together wins), keeps beating it while DBOS moves the dead worker's workflows over, and deletes it
only then, unless workflows that another workflow version began remain (after an upgrade): those wait, with
the row, for a worker of their version. A worker killed in the middle of a takeover leaves the row to go
stale again, and the next look of a live worker resumes what it had not moved yet.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from agentruns import clock
from agentruns.engine.names import WORKFLOW_VERSION
from agentruns.settings import Settings
from agentruns.storage.database import Database
from agentruns.storage.dbos_tables import other_version_workflows
from agentruns.storage.models import Worker
from agentruns.storage.queries.inserts import insert_once
from agentruns.storage.queries.run_states import changed

HEART_POOL_SIZE = 2
"""One connection for the beat, one for the look at the others: they run on separate timers."""

Recover = Callable[[str], Awaitable[int]]
"""Resume the workflows a dead executor held; returns how many."""


class Liveness:
    """The heartbeat of one worker and its watch over the others."""

    def __init__(self, settings: Settings, executor_id: str) -> None:
        self.executor_id = executor_id
        self.dead_after = timedelta(seconds=settings.worker_dead_after_seconds)
        self.db = Database(settings.database_url, pool_size=HEART_POOL_SIZE)
        self._taking_over: set[str] = set()

    async def beat(self) -> None:
        """Tell the other workers that this one is alive (its row is made again if another deleted it), and
        keep the rows of the dead workers it is taking over from going stale."""
        now = clock.now()
        async with self.db.write() as session:
            row = await session.get(Worker, self.executor_id)
            if row is None:
                await insert_once(session, Worker, [{"executor_id": self.executor_id, "started_at": now,
                                                     "heartbeat_at": now}])  # fmt: skip
            else:
                row.heartbeat_at = now
            if self._taking_over:
                adopted = Worker.executor_id.in_(list(self._taking_over))
                await session.execute(update(Worker).where(adopted).values(heartbeat_at=now))

    async def take_over_dead_workers(self, recover: Recover) -> dict[str, int]:
        """Recover the runs of the other workers whose heart stopped; of several workers that look together,
        the one whose UPDATE claims a dead worker's row recovers its runs. Returns each taken executor's run
        count."""
        cutoff = clock.now() - self.dead_after
        stale = select(Worker.executor_id).where(Worker.heartbeat_at < cutoff, Worker.executor_id != self.executor_id)
        async with self.db.read() as session:
            dead = list(await session.scalars(stale))
        taken: dict[str, int] = {}
        for executor_id in dead:
            async with self.db.write() as session:
                claimed = await session.execute(
                    update(Worker)
                    .where(Worker.executor_id == executor_id, Worker.heartbeat_at < cutoff)
                    .values(heartbeat_at=clock.now())
                )
            if not changed(claimed):
                continue
            self._taking_over.add(executor_id)
            try:
                taken[executor_id] = await recover(executor_id)
                async with self.db.write() as session:
                    # DBOS resumes only this version's workflows: the row of a worker that had begun others stays
                    # stale, and a worker of their version that looks later takes them over.
                    if not await other_version_workflows(session, executor_id, WORKFLOW_VERSION):
                        await session.execute(delete(Worker).where(Worker.executor_id == executor_id))
            finally:
                self._taking_over.discard(executor_id)
        return taken

    async def stop(self) -> None:
        """Stop the heart: its runs left in flight are taken over by the next look of any live worker."""
        async with self.db.write() as session:
            row = await session.get(Worker, self.executor_id)
            if row is not None:
                row.heartbeat_at = datetime.fromtimestamp(0, UTC)
        await self.db.dispose()
