"""Queries on runs and their audit trail (steps, usage entries, logs, watchers)."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Select, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.ids import new_id
from agentruns.storage.models import Run, RunLog, RunStep, RunWatcher, UsageEntry
from agentruns.storage.queries.inserts import table_of
from agentruns.storage.queries.pages import PageOf, fetch_page


async def get(session: AsyncSession, org_id: str, run_id: str) -> Run | None:
    """A run of the organization."""
    return await session.scalar(select(Run).where(Run.id == run_id, Run.org_id == org_id))


def add_watcher_on(connection: Connection, run_id: str, url: str, at: datetime) -> None:
    """Store a callback URL to notify when the run ends, on a Core connection (`Database.write_core`)."""
    connection.execute(_INSERT_WATCHER, [{"id": new_id("watch"), "run_id": run_id, "url": url, "created_at": at}])


_INSERT_WATCHER = insert(table_of(RunWatcher))


async def page(
    session: AsyncSession,
    org_id: str,
    *,
    agent_id: str | None,
    status: str | None,
    cursor: str | None,
    limit: int,
    parent_run_id: str | None = None,
    metadata: dict[str, str] | None = None,
) -> PageOf[Run]:
    """The organization's runs, newest first, optionally of one agent, in one status, children of one run, and
    with these metadata values."""
    query: Select[Run] = select(Run).where(Run.org_id == org_id)
    if agent_id is not None:
        query = query.where(Run.agent_id == agent_id)
    if status is not None:
        query = query.where(Run.status == status)
    if parent_run_id is not None:
        query = query.where(Run.parent_run_id == parent_run_id)
    for key, value in (metadata or {}).items():
        query = query.where(Run.metadata_[key].as_string() == value)
    return await fetch_page(session, Run, query, org_id=org_id, cursor=cursor, limit=limit)


async def steps(session: AsyncSession, run_id: str) -> Sequence[RunStep]:
    """The run's steps in the order they happened."""
    return (await session.scalars(select(RunStep).where(RunStep.run_id == run_id).order_by(RunStep.number))).all()


async def usage_entries(session: AsyncSession, run_id: str) -> Sequence[UsageEntry]:
    """The run's billable calls in the order they were made."""
    query = select(UsageEntry).where(UsageEntry.run_id == run_id).order_by(UsageEntry.number)
    return (await session.scalars(query)).all()


async def logs(session: AsyncSession, run_id: str) -> Sequence[RunLog]:
    """The run's log chunks of both streams, in order."""
    return (await session.scalars(select(RunLog).where(RunLog.run_id == run_id).order_by(RunLog.number))).all()


async def watcher_urls(session: AsyncSession, run_id: str) -> Sequence[str]:
    """The callback URLs registered on the run."""
    query = select(RunWatcher.url).where(RunWatcher.run_id == run_id).order_by(RunWatcher.created_at)
    return (await session.scalars(query)).all()
