"""Queries on agents."""

from sqlalchemy import Connection, Row, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.storage.models import Agent
from agentruns.storage.queries.pages import PageOf, fetch_page


async def get(session: AsyncSession, org_id: str, agent_id: str, *, active_only: bool = True) -> Agent | None:
    """An agent of the organization; deleted agents only when `active_only` is false."""
    query = select(Agent).where(Agent.id == agent_id, Agent.org_id == org_id)
    if active_only:
        query = query.where(Agent.is_active.is_(True))
    return await session.scalar(query)


def runnable_on(connection: Connection, org_id: str, agent_id: str) -> Row[str, str] | None:
    """The id and model of an agent of the organization that runs can be created for (active, and not the ephemeral
    agent of an `execute`), on a Core connection (`Database.write_core`)."""
    return connection.execute(_RUNNABLE, {"org_id": org_id, "agent_id": agent_id}).first()


_RUNNABLE = select(Agent.id, Agent.model).where(
    Agent.id == bindparam("agent_id"), Agent.org_id == bindparam("org_id"), Agent.is_active.is_(True),
    Agent.ephemeral.is_(False),
)  # fmt: skip


async def page(session: AsyncSession, org_id: str, *, cursor: str | None, limit: int) -> PageOf[Agent]:
    """The organization's active agents, newest first; ephemeral agents (of `execute`) are never listed."""
    query: Select[Agent] = select(Agent).where(
        Agent.org_id == org_id, Agent.is_active.is_(True), Agent.ephemeral.is_(False)
    )
    return await fetch_page(session, Agent, query, org_id=org_id, cursor=cursor, limit=limit)
