"""Idempotent writes of a run's audit trail: each row is keyed by the run and its number, so a replay
after a crash writes nothing twice."""

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.storage.models import Run, RunLog, RunStep, UsageEntry
from agentruns.storage.queries.inserts import insert_once


async def add_steps(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Store steps (`run_id`, `number`, …)."""
    await insert_once(session, RunStep, rows)


async def add_usage(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Store usage entries (`run_id`, `number`, …)."""
    await insert_once(session, UsageEntry, rows)


async def add_logs(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Store log chunks (`run_id`, `stream`, `number`, …)."""
    await insert_once(session, RunLog, rows)


async def set_runtime(session: AsyncSession, run_id: str, **values: Any) -> None:
    """Update the run's sandbox fields (`runtime_id`, `runtime_state`, `provider`)."""
    await session.execute(update(Run).where(Run.id == run_id).values(**values))
