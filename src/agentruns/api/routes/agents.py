"""`/agent/v1/agents`: create, list, get, update and delete agents."""

from fastapi import APIRouter

from agentruns.api.deps import CurrentOrg, DatabaseDep
from agentruns.api.openapi import CLIENT_ERRORS, NOT_FOUND
from agentruns.api.params import AgentId, Cursor, Limit
from agentruns.schemas.agents import AgentCreate, AgentOut, AgentPage, AgentUpdate, Deleted
from agentruns.schemas.catalog import PAGE_LIMIT_DEFAULT
from agentruns.services import agents

router = APIRouter(prefix="/agent/v1/agents", tags=["agents"], responses=CLIENT_ERRORS)


@router.post("")
async def create_agent(body: AgentCreate, db: DatabaseDep, org: CurrentOrg) -> AgentOut:
    """Create an agent."""
    return await agents.create_agent(db, org, body)


@router.get("")
async def list_agents(
    db: DatabaseDep, org: CurrentOrg, cursor: Cursor = None, limit: Limit = PAGE_LIMIT_DEFAULT
) -> AgentPage:
    """List the organization's active agents, newest first."""
    return await agents.list_agents(db, org, cursor=cursor, limit=limit)


@router.get("/{agent_id}", responses=NOT_FOUND)
async def get_agent(agent_id: AgentId, db: DatabaseDep, org: CurrentOrg) -> AgentOut:
    """Get an agent; a deleted agent answers with `isActive: false`."""
    return await agents.get_agent(db, org, agent_id)


@router.patch("/{agent_id}", responses=NOT_FOUND)
async def update_agent(agent_id: AgentId, body: AgentUpdate, db: DatabaseDep, org: CurrentOrg) -> AgentOut:
    """Change the fields sent; `null` clears a clearable field."""
    return await agents.update_agent(db, org, agent_id, body)


@router.delete("/{agent_id}", responses=NOT_FOUND)
async def delete_agent(agent_id: AgentId, db: DatabaseDep, org: CurrentOrg) -> Deleted:
    """Soft-delete an agent: hidden from the list, its runs stay readable, new runs on it are refused."""
    return await agents.delete_agent(db, org, agent_id)
