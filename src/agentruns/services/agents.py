"""Agent use cases: create, read, list, update and soft-delete an organization's agents."""

from typing import Any

from agentruns import clock
from agentruns.errors import NotFound
from agentruns.ids import new_id
from agentruns.schemas.agents import (
    AgentCreate,
    AgentListItem,
    AgentOut,
    AgentPage,
    AgentUpdate,
    Deleted,
    Sandbox,
    SandboxNetworkOut,
    SandboxOut,
)
from agentruns.storage.database import Database
from agentruns.storage.models import Agent
from agentruns.storage.queries import agents
from agentruns.storage.queries.pages import UnknownCursor


def agent_out(row: Agent) -> AgentOut:
    """The wire form of an agent."""
    return AgentOut(
        id=row.id,
        name=row.name,
        description=row.description,
        instructions=row.instructions,
        model=row.model,
        vault_ids=row.vault_ids,
        vault_groups=row.vault_groups,
        enabled_tools=row.enabled_tools,
        disabled_tools=row.disabled_tools,
        sandbox=sandbox_out(row),
        max_duration_ms=row.max_duration_ms,
        max_model_requests=row.max_model_requests,
        max_cost_micros=row.max_cost_micros,
        is_active=row.is_active,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def sandbox_out(row: Agent) -> SandboxOut:
    """The wire form of an agent's sandbox."""
    allow = row.sandbox_network_allow
    network = SandboxNetworkOut(allow=allow) if allow is not None else None
    return SandboxOut(cpu=row.sandbox_cpu, memoryMiB=row.sandbox_memory_mib, network=network)


def network_allow(sandbox: Sandbox) -> list[str] | None:
    """The allowlist to store for the agent's sandbox; None: the deployment's default."""
    return list(dict.fromkeys(sandbox.network.allow)) if sandbox.network is not None else None


def _not_found(agent_id: str) -> NotFound:
    return NotFound(f"agent {agent_id!r} not found")


async def create_agent(db: Database, org_id: str, body: AgentCreate) -> AgentOut:
    """Store a new agent."""
    sandbox = body.sandbox or Sandbox()
    now = clock.now()
    row = Agent(
        id=new_id("agent"),
        org_id=org_id,
        name=body.name,
        description=body.description,
        instructions=body.instructions,
        model=body.model,
        vault_ids=body.vault_ids,
        vault_groups=body.vault_groups,
        enabled_tools=body.enabled_tools,
        disabled_tools=body.disabled_tools,
        sandbox_cpu=sandbox.cpu,
        sandbox_memory_mib=sandbox.memory_mib,
        sandbox_network_allow=network_allow(sandbox),
        max_duration_ms=body.max_duration_ms,
        max_model_requests=body.max_model_requests,
        max_cost_micros=body.max_cost_micros,
        is_active=True,
        ephemeral=False,
        created_at=now,
        updated_at=now,
        deleted_at=None,
    )
    async with db.write() as session:
        session.add(row)
    return agent_out(row)


async def get_agent(db: Database, org_id: str, agent_id: str) -> AgentOut:
    """An agent of the organization; a deleted one too, with `isActive` false."""
    async with db.read() as session:
        row = await agents.get(session, org_id, agent_id, active_only=False)
    if row is None:
        raise _not_found(agent_id)
    return agent_out(row)


async def list_agents(db: Database, org_id: str, *, cursor: str | None, limit: int) -> AgentPage:
    """One page of the organization's active agents, newest first."""
    async with db.read() as session:
        try:
            page = await agents.page(session, org_id, cursor=cursor, limit=limit)
        except UnknownCursor:
            raise NotFound(f"cursor {cursor!r} names no agent of this organization") from None
    items = [
        AgentListItem(
            id=row.id,
            name=row.name,
            description=row.description,
            model=row.model,
            vault_ids=row.vault_ids,
            is_active=row.is_active,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
        for row in page.rows
    ]
    return AgentPage(agents=items, has_more=page.has_more, next_cursor=page.next_cursor)


def _apply(row: Agent, changes: dict[str, Any]) -> None:
    """Apply the sent fields; `null` clears a list to empty and the sandbox to its defaults."""
    for field, value in changes.items():
        if field == "sandbox":
            sandbox: Sandbox = value or Sandbox()
            row.sandbox_cpu, row.sandbox_memory_mib = sandbox.cpu, sandbox.memory_mib
            row.sandbox_network_allow = network_allow(sandbox)
        elif field in ("vault_ids", "vault_groups"):
            setattr(row, field, value or [])
        else:
            setattr(row, field, value)


async def update_agent(db: Database, org_id: str, agent_id: str, body: AgentUpdate) -> AgentOut:
    """Change only the fields the client sent."""
    async with db.write() as session:
        row = await agents.get(session, org_id, agent_id)
        if row is None:
            raise _not_found(agent_id)
        changes = body.changes()
        # The two lists exclude each other, so setting one replaces the other.
        if changes.get("enabled_tools") is not None:
            changes.setdefault("disabled_tools", None)
        if changes.get("disabled_tools") is not None:
            changes.setdefault("enabled_tools", None)
        _apply(row, changes)
        row.updated_at = clock.now()
    return agent_out(row)


async def delete_agent(db: Database, org_id: str, agent_id: str) -> Deleted:
    """Soft-delete: the agent leaves the list and takes no new runs; its runs stay readable."""
    async with db.write() as session:
        row = await agents.get(session, org_id, agent_id)
        if row is None:
            raise _not_found(agent_id)
        now = clock.now()
        row.is_active, row.deleted_at, row.updated_at = False, now, now
    return Deleted(ok=True)
