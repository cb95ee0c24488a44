"""Queries on the tree of runs that child runs make: a run's children, its descendants, their usage."""

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.storage.models import Run, UsageEntry

MAX_LEVELS = 50
"""Deeper than any tree `AGENTRUNS_MAX_RUN_DEPTH` allows: a guard, not a limit."""


async def children(session: AsyncSession, org_id: str, run_id: str) -> Sequence[Run]:
    """The runs this run's agent started, oldest first."""
    query = select(Run).where(Run.org_id == org_id, Run.parent_run_id == run_id).order_by(Run.seq)
    return (await session.scalars(query)).all()


async def children_of(session: AsyncSession, org_id: str, run_ids: Sequence[str]) -> Sequence[Run]:
    """The children of any of these runs, oldest first."""
    query = select(Run).where(Run.org_id == org_id, Run.parent_run_id.in_(run_ids)).order_by(Run.seq)
    return (await session.scalars(query)).all()


async def descendants(session: AsyncSession, org_id: str, run_id: str) -> list[Run]:
    """The run's children, their children and so on, level by level (each level oldest first)."""
    found: list[Run] = []
    level = [run_id]
    for _ in range(MAX_LEVELS):
        if not level:
            break
        below = list(await children_of(session, org_id, level))
        found += below
        level = [run.id for run in below]
    return found


async def usage_sums(session: AsyncSession, run_ids: Sequence[str]) -> tuple[int, int, int, int, int]:
    """(cost in micro-dollars, prompt, completion, total and cached tokens) over the usage entries of these runs."""
    if not run_ids:
        return 0, 0, 0, 0, 0
    query = select(
        func.coalesce(func.sum(UsageEntry.cost_micros), 0),
        func.coalesce(func.sum(UsageEntry.prompt_tokens), 0),
        func.coalesce(func.sum(UsageEntry.completion_tokens), 0),
        func.coalesce(func.sum(UsageEntry.total_tokens), 0),
        func.coalesce(func.sum(UsageEntry.cached_tokens), 0),
    ).where(UsageEntry.run_id.in_(run_ids))
    row = (await session.execute(query)).one()
    return int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4])
