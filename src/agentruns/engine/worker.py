"""A worker: executes queued runs, beats its heart and takes over dead workers' runs (`engine/liveness.py`),
stops cancelled runs, sends webhooks (`events/webhook_sender.py`), times out runs that waited too long
(`engine/wait_sweep.py`), and deletes the workspaces of runs that ended (`AGENTRUNS_WORKSPACE_KEEP_SECONDS`
after their end).

Its settings: `AGENTRUNS_WORKER_CONCURRENCY` (runs at once), `AGENTRUNS_ORG_CONCURRENCY` (runs of one
organization at once, across all workers), `AGENTRUNS_QUEUE_POLL_SECONDS`, `AGENTRUNS_EXECUTOR_ID`.
"""

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dbos import DBOS, DBOSConfig
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns import clock
from agentruns.engine import endings
from agentruns.engine.client import EngineClient
from agentruns.engine.context import WorkerContext, current, install
from agentruns.engine.dbos_bridge import recover_workflows
from agentruns.engine.liveness import Liveness
from agentruns.engine.names import APP_NAME, QUEUE_NAME, WORKFLOW_VERSION, workflow_id_for
from agentruns.engine.sandboxes import check_worker, limits_enforcement, syscall_filtering
from agentruns.engine.wait_sweep import time_out_waits
from agentruns.engine.workflow import run_workflow
from agentruns.engine.workspace_sweep import sweep, sweep_interval
from agentruns.events.webhook_sender import SWEEP_SECONDS as WEBHOOK_SWEEP_SECONDS
from agentruns.events.webhook_sender import WebhookSender
from agentruns.sandbox import cgroups
from agentruns.sandbox.orphans import kill_orphaned_jails
from agentruns.schemas.errors import ErrorCode
from agentruns.schemas.runs import RunStatus
from agentruns.settings import Settings
from agentruns.storage.database import Database, system_database_url
from agentruns.storage.dbos_tables import adopt_unstarted_workflows, orphaned_runs, runs_to_stop
from agentruns.storage.models import Run
from agentruns.storage.queries import journal, run_states
from agentruns.storage.secret_box import SecretBox
from agentruns.storage.secrets_key import secret_box

log = logging.getLogger("agentruns.worker")

# Importing the workflow registers it with DBOS, which must happen before DBOS launches.
REGISTERED_WORKFLOWS = (run_workflow,)

CANCEL_CHECK_SECONDS = 0.2
WORKFLOW_CHECK_SECONDS = 5.0
WAIT_CHECK_SECONDS = 1.0
JAIL_SWEEP_SECONDS = 10.0


def default_executor_id() -> str:
    """A name for this worker process that no other process has."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Worker:
    """One worker process's engine: DBOS launched on this event loop plus its housekeeping loops."""

    def __init__(self, settings: Settings, *, secrets: SecretBox | None = None) -> None:
        """`secrets`: the key box of stored secrets, found from the settings if not given (`SecretsKeyError`)."""
        self.settings = settings
        self.executor_id = settings.executor_id or default_executor_id()
        self.sandbox_limits = "not known until the worker starts"
        """What enforces the limits of this worker's sandboxes (cgroups, or rlimits only)."""
        self.syscall_filter = "not known until the worker starts"
        """What filters the system calls of this worker's sandboxes (a seccomp filter, or none)."""
        self.db = Database(settings.database_url, pool_size=settings.database_pool_size)
        self.engine = EngineClient(settings.database_url)
        self._loops: list[asyncio.Task[None]] = []
        box = secrets if secrets is not None else secret_box(settings)
        self._webhooks = WebhookSender(self.db, settings, self.executor_id, box)
        self._liveness = Liveness(settings, self.executor_id)
        self._journal_from: journal.Execution | None = None

    async def start(self) -> None:
        """Launch DBOS (recovering this executor's own unfinished runs) and start the housekeeping loops.

        Raises:
            SandboxUnavailable: Runs could not run tools here (see `engine/sandboxes.py`); nothing was started.
        """
        provider = check_worker(self.settings)
        context = WorkerContext(settings=self.settings, db=self.db, executor_id=self.executor_id, engine=self.engine)
        install(context)
        config: DBOSConfig = {
            "name": APP_NAME,
            "system_database_url": system_database_url(self.settings.database_url),
            "executor_id": self.executor_id,
            "application_version": WORKFLOW_VERSION,
            "log_level": "WARNING",
            "max_executor_threads": 64,
            "sys_db_pool_size": self.settings.engine_pool_size,
            # DBOS pings each connection it checks out (a round trip, about two a run); it retries its statements on a
            # dropped connection anyway (`db_retry`), so, as our own pool does, recycle connections instead.
            "db_engine_kwargs": {"pool_pre_ping": False, "pool_recycle": 1800},
            "notification_listener_polling_interval_sec": 0.1,
        }
        logging.getLogger("dbos").setLevel(logging.WARNING)
        DBOS(config=config)
        DBOS.launch()
        await DBOS.register_queue_async(
            QUEUE_NAME,
            worker_concurrency=self.settings.worker_concurrency,
            partition_concurrency=self.settings.org_concurrency,
            polling_interval_sec=self.settings.queue_poll_seconds,
            on_conflict="always_update",
        )
        await self._liveness.beat()
        await self._kill_orphaned_jails()
        await self._webhooks.start()
        heartbeat = self.settings.worker_heartbeat_seconds
        self._loops = [
            asyncio.create_task(self._every(heartbeat, self._liveness.beat), name="agentruns-heartbeat"),
            asyncio.create_task(self._every(WEBHOOK_SWEEP_SECONDS, self._webhooks.sweep), name="agentruns-webhooks"),
            asyncio.create_task(self._every(heartbeat, self._take_over_dead_workers), name="agentruns-takeover"),
            asyncio.create_task(self._every(CANCEL_CHECK_SECONDS, self._stop_cancelled_runs), name="agentruns-cancel"),
            asyncio.create_task(self._every(WORKFLOW_CHECK_SECONDS, self._check_workflows), name="agentruns-workflows"),
            asyncio.create_task(self._every(WAIT_CHECK_SECONDS, self._time_out_waits), name="agentruns-waits"),
            asyncio.create_task(self._every(JAIL_SWEEP_SECONDS, self._kill_orphaned_jails), name="agentruns-jails"),
            asyncio.create_task(
                self._every(sweep_interval(self.settings.workspace_keep_seconds), self._sweep_workspaces),
                name="agentruns-workspaces",
            ),
        ]
        self.sandbox_limits = limits_enforcement(provider)
        self.syscall_filter = syscall_filtering(self.settings, provider)
        log.info(
            "worker %s started; tools run in %s sandboxes, limits by %s, %s",
            self.executor_id,
            provider,
            self.sandbox_limits,
            self.syscall_filter,
        )

    async def stop(self) -> None:
        """Stop taking runs and leave; runs in flight are taken over by another worker or on restart."""
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._webhooks.close()  # deliveries cut short are sent again (see events/webhook_sender.py)
        # Stop the runs in flight (their tool processes die with them); their finished steps are kept.
        in_flight = list(current().running.values())
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
        DBOS.destroy(workflow_completion_timeout_sec=0)
        # DBOS made its thread pool this loop's default executor and has just shut it down.
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor())
        # Runs still in flight stay claimed by this executor: a heart stopped long ago lets the next
        # look of any live worker take them over (or this worker resumes them if it restarts first).
        await self._liveness.stop()
        self.engine.close()
        await self.db.dispose()

    @staticmethod
    async def _every(seconds: float, action: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await action()
            except Exception:  # a missed beat or sweep is retried at the next tick
                log.exception("worker housekeeping failed")

    async def _take_over_dead_workers(self) -> None:
        """Resume the runs of workers whose heart stopped (`engine/liveness.py`)."""
        taken = await self._liveness.take_over_dead_workers(recover_workflows)
        for executor_id, runs in taken.items():
            log.warning("worker %s is gone; %d of its runs were taken over", executor_id, runs)

    async def _kill_orphaned_jails(self) -> None:
        """Kill what sandboxes of dead services on this host left running (`sandbox/orphans.py`), and remove
        their cgroups (`sandbox/cgroups.py`)."""
        await asyncio.to_thread(kill_orphaned_jails)
        if (tree := cgroups.detect()) is not None:
            await asyncio.to_thread(cgroups.sweep, tree)

    async def _sweep_workspaces(self) -> None:
        """Delete the workspaces whose keep time is over (`engine/workspace_sweep.py`)."""
        root = Path(self.settings.workspace_root).resolve()
        await sweep(self.db, root, keep_seconds=self.settings.workspace_keep_seconds, now=clock.now())

    async def _check_workflows(self) -> None:
        """No run queued by an older version stays queued (an API process not upgraded yet may still enqueue
        them); the journal entries of ended workflows are forgotten (`storage/queries/journal.py`); no run stays
        active once its workflow has ended (for instance after a bug in the engine)."""
        async with self.db.write() as session:
            adopted = await adopt_unstarted_workflows(session, QUEUE_NAME, WORKFLOW_VERSION)
            _, self._journal_from = await journal.forget_ended(session, workflow_id_for, after=self._journal_from)
        if adopted:
            log.info("took %d queued runs of an older workflow version", adopted)
        async with self.db.read() as session:
            orphans = await orphaned_runs(session)
        for run_id, workflow_status in orphans:
            message = f"the run's workflow ended ({workflow_status}) without recording how the run ended"

            async def fail(session: AsyncSession, run_id: str = run_id, message: str = message) -> Run | None:
                code, unfinished = ErrorCode.INTERNAL_ERROR.value, (RunStatus.QUEUED, RunStatus.RUNNING)
                return await run_states.fail(
                    session, run_id, clock.now(), code, message, timed_out=False, from_statuses=unfinished
                )

            if await endings.ending(self.db, self.engine, run_id, fail):
                log.error("run %s: %s", run_id, message)

    async def _time_out_waits(self) -> None:
        """End the runs that waited past their deadline (`engine/wait_sweep.py`)."""
        await time_out_waits(self.db, self.engine, clock.now())

    async def _stop_cancelled_runs(self) -> None:
        """Stop at once the runs of this process that were cancelled: their tasks, model requests, processes.

        A run whose workflow was ended from outside (DBOS's own cancel) is stopped too, and left as it is: the
        orphan check then fails it, saying how its workflow ended.
        """
        context = current()
        if not context.running:
            return
        async with self.db.read() as session:
            stopping = await runs_to_stop(session, list(context.running))
        for run_id, cancelled in stopping:
            task = context.running.get(run_id)
            if task is not None and not task.done():
                if cancelled:
                    context.cancelled.add(run_id)
                task.cancel()
