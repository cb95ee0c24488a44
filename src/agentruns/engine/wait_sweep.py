"""The wait sweep: a run that waits past its deadline (`AGENTRUNS_WAIT_TIME_LIMIT_SECONDS`) ends as `timeout`."""

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.engine import endings
from agentruns.engine.client import EngineClient
from agentruns.schemas.errors import ErrorCode
from agentruns.schemas.runs import RunStatus
from agentruns.storage.database import Database
from agentruns.storage.models import Run
from agentruns.storage.queries import run_states, waits

log = logging.getLogger("agentruns.waits")

SETTING = "AGENTRUNS_WAIT_TIME_LIMIT_SECONDS"


async def time_out_waits(db: Database, engine: EngineClient, now: datetime) -> list[str]:
    """End the runs whose wait is past its deadline; the ids of those it ended."""
    async with db.read() as session:
        overdue = await waits.overdue(session, now)
    ended: list[str] = []
    for run_id, since, deadline in overdue:
        limit = (deadline - since).total_seconds()
        message = f"the run waited longer than its wait limit of {limit:g} s ({SETTING}) for an answer or a child run"

        async def rule(session: AsyncSession, run_id: str = run_id, message: str = message) -> Run | None:
            wait = await waits.current(session, run_id)  # the run may have been answered, and wait again, since
            if wait is None or wait.deadline >= now:
                return None
            return await run_states.fail(session, run_id, now, ErrorCode.TIMEOUT.value, message, timed_out=True,
                                         from_statuses=(RunStatus.WAITING,))  # fmt: skip

        if await endings.ending(db, engine, run_id, rule):
            log.info("run %s: %s", run_id, message)
            ended.append(run_id)
    return ended
