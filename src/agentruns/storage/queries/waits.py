"""Queries on runs' waits and the tool calls each wait waits for (questions, child runs)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.schemas.runs import RunStatus
from agentruns.storage.models import Run, RunPendingCall, RunWait
from agentruns.storage.queries.run_states import changed


async def get(session: AsyncSession, run_id: str, number: int) -> RunWait | None:
    """Wait `number` of the run."""
    return await session.get(RunWait, (run_id, number))


async def current(session: AsyncSession, run_id: str) -> RunWait | None:
    """The run's wait that has not been resumed, if it has one."""
    query = select(RunWait).where(RunWait.run_id == run_id, RunWait.resumed_at.is_(None))
    return await session.scalar(query.order_by(RunWait.number.desc()).limit(1))


async def calls(session: AsyncSession, run_id: str, number: int) -> Sequence[RunPendingCall]:
    """The tool calls wait `number` of the run waits (or waited) for, in the order the model made them."""
    query = select(RunPendingCall).where(RunPendingCall.run_id == run_id, RunPendingCall.wait_number == number)
    return (await session.scalars(query.order_by(RunPendingCall.position))).all()


async def call_for_child(session: AsyncSession, parent_id: str, child_id: str) -> RunPendingCall | None:
    """The unresolved call of the parent's current wait that waits for this child run."""
    query = select(RunPendingCall).where(
        RunPendingCall.run_id == parent_id,
        RunPendingCall.child_run_id == child_id,
        RunPendingCall.resolved_at.is_(None),
    )
    return await session.scalar(query)


async def resolve(session: AsyncSession, call: RunPendingCall, result: Any, at: datetime) -> bool:
    """Give an unresolved call its result; False if it already had one."""
    outcome = await session.execute(
        update(RunPendingCall)
        .where(
            RunPendingCall.run_id == call.run_id,
            RunPendingCall.wait_number == call.wait_number,
            RunPendingCall.tool_call_id == call.tool_call_id,
            RunPendingCall.resolved_at.is_(None),
        )
        .values(result=result, resolved_at=at)
    )
    return changed(outcome)


async def unresolved(session: AsyncSession, run_id: str, number: int) -> int:
    """How many calls of the wait still wait for their result."""
    query = select(func.count()).where(
        RunPendingCall.run_id == run_id, RunPendingCall.wait_number == number, RunPendingCall.resolved_at.is_(None)
    )
    return await session.scalar(query) or 0


async def mark_resumed(session: AsyncSession, run_id: str, number: int, at: datetime) -> None:
    """The wait is over: its run goes on."""
    await session.execute(
        update(RunWait).where(RunWait.run_id == run_id, RunWait.number == number).values(resumed_at=at)
    )


async def count(session: AsyncSession, run_id: str) -> int:
    """How many waits the run has had."""
    return await session.scalar(select(func.count()).where(RunWait.run_id == run_id)) or 0


async def overdue(session: AsyncSession, now: datetime, limit: int = 100) -> Sequence[tuple[str, datetime, datetime]]:
    """(run id, when the wait began, its deadline) of waiting runs whose wait is past its deadline."""
    query = (
        select(Run.id, RunWait.created_at, RunWait.deadline)
        .join(RunWait, RunWait.run_id == Run.id)
        .where(Run.status == RunStatus.WAITING, RunWait.resumed_at.is_(None), RunWait.deadline < now)
        .limit(limit)
    )
    return [(row[0], row[1], row[2]) for row in await session.execute(query)]
