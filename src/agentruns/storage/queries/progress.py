"""How far a run's audit trail got: the numbers a resumed run's next rows continue from."""

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.storage.models import RunLog, RunStep, UsageEntry


@dataclass(frozen=True, slots=True)
class Progress:
    """The last step, usage entry and log chunk numbers of a run, and its usage totals."""

    steps: int
    requests: int
    logs: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_micros: int


async def progress_of(session: AsyncSession, run_id: str) -> Progress:
    """The run's progress as stored."""
    steps = await session.scalar(select(func.max(RunStep.number)).where(RunStep.run_id == run_id))
    logs = await session.scalar(select(func.max(RunLog.number)).where(RunLog.run_id == run_id))
    usage = (
        await session.execute(
            select(
                func.coalesce(func.max(UsageEntry.number), 0),
                func.coalesce(func.sum(UsageEntry.prompt_tokens), 0),
                func.coalesce(func.sum(UsageEntry.completion_tokens), 0),
                func.coalesce(func.sum(UsageEntry.cached_tokens), 0),
                func.coalesce(func.sum(UsageEntry.cost_micros), 0),
            ).where(UsageEntry.run_id == run_id)
        )
    ).one()
    return Progress(
        steps=steps or 0,
        requests=int(usage[0]),
        logs=logs or 0,
        input_tokens=int(usage[1]),
        output_tokens=int(usage[2]),
        cached_tokens=int(usage[3]),
        cost_micros=int(usage[4]),
    )
