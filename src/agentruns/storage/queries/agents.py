"""Queries on agents."""

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.storage.models import Agent
from agentruns.storage.queries.pages import PageOf, fetch_page


async def get(session: AsyncSession, org_id: str, agent_id: str, *, active_only: bool = True) -> Agent | None:
    """An agent of the organization; deleted agents only when `active_only` is false."""
    query = select(Agent).where(Agent.id == agent_id, Agent.org_id == org_id)
    if active_only:
        query = query.where(Agent.is_active.is_(True))
    return await session.scalar(query)


async def page(session: AsyncSession, org_id: str, *, cursor: str | None, limit: int) -> PageOf[Agent]:
    """The organization's active agents, newest first; ephemeral agents (of `execute`) are never listed."""
    query: Select[Agent] = select(Agent).where(
        Agent.org_id == org_id, Agent.is_active.is_(True), Agent.ephemeral.is_(False)
    )
    return await fetch_page(session, Agent, query, org_id=org_id, cursor=cursor, limit=limit)
