"""The queries of the workspace sweep: which runs' workspaces may go, and showing that one went."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.schemas.runs import TERMINAL_STATUSES
from agentruns.storage.models import Run

DELETED_FROM = ("running", "archived")
"""The sandbox states a deleted workspace turns into `ended`; `error` stays, as it says more."""


async def ended_before(session: AsyncSession, run_ids: Sequence[str], cutoff: datetime) -> list[str]:
    """Those of `run_ids` that ended before `cutoff` (unknown ids and active runs are left out)."""
    ended = await session.scalars(
        select(Run.id).where(Run.id.in_(run_ids), Run.status.in_(TERMINAL_STATUSES), Run.completed_at < cutoff)
    )
    return list(ended)


async def mark_deleted(session: AsyncSession, run_id: str) -> None:
    """The run's workspace is deleted: its sandbox shows `ended`."""
    await session.execute(
        update(Run).where(Run.id == run_id, Run.runtime_state.in_(DELETED_FROM)).values(runtime_state="ended")
    )
