"""`agentruns agents`: create, list, get, update and delete agents on a server."""

from enum import StrEnum
from typing import Annotated, cast

import typer

from agentruns.cli.remote import ApiKey, AsJson, Url, connect, out, print_json
from agentruns.cli.render import show_agents, show_object
from agentruns.client import Client
from agentruns.client.calls import AgentChanges, AgentOptions
from agentruns.client.models import AgentOut, SandboxSpec

app = typer.Typer(help="Agents: create, list, get, update, delete.", no_args_is_help=True)


class Clearable(StrEnum):
    """The fields `update --clear` sets to null (a cleared sandbox returns to the defaults)."""

    DESCRIPTION = "description"
    VAULT_IDS = "vault-ids"
    VAULT_GROUPS = "vault-groups"
    ENABLED_TOOLS = "enabled-tools"
    DISABLED_TOOLS = "disabled-tools"
    SANDBOX = "sandbox"
    MAX_DURATION_MS = "max-duration-ms"


Description = Annotated[str | None, typer.Option(help="What the agent is for.")]
Model = Annotated[str | None, typer.Option(help="provider/model, such as offline/scripted.")]
VaultIds = Annotated[list[str] | None, typer.Option("--vault-id", help="A vault the agent may read (repeatable).")]
VaultGroups = Annotated[list[str] | None, typer.Option("--vault-group", help="A vault group (repeatable).")]
Enabled = Annotated[list[str] | None, typer.Option("--enable-tool", help="Only these tools (repeatable).")]
Disabled = Annotated[list[str] | None, typer.Option("--disable-tool", help="Every tool but these (repeatable).")]
Cpu = Annotated[int | None, typer.Option(help="CPUs of each run's sandbox (1–8).")]
Memory = Annotated[int | None, typer.Option("--memory-mib", help="Memory of each run's sandbox in MiB.")]
MaxDuration = Annotated[int | None, typer.Option("--max-duration-ms", help="Time limit of each run in ms.")]
AgentId = Annotated[str, typer.Argument(help="The agent's id (agent_…).", show_default=False)]


def _options(
    description: str | None,
    model: str | None,
    vault_ids: list[str] | None,
    vault_groups: list[str] | None,
    enabled_tools: list[str] | None,
    disabled_tools: list[str] | None,
    max_duration_ms: int | None,
) -> AgentOptions:
    options = AgentOptions()
    if description is not None:
        options["description"] = description
    if model is not None:
        options["model"] = model
    if vault_ids:
        options["vault_ids"] = vault_ids
    if vault_groups:
        options["vault_groups"] = vault_groups
    if enabled_tools:
        options["enabled_tools"] = enabled_tools
    if disabled_tools:
        options["disabled_tools"] = disabled_tools
    if max_duration_ms is not None:
        options["max_duration_ms"] = max_duration_ms
    return options


def _show(agent: AgentOut, json: bool) -> None:
    if json:
        print_json(agent)
    else:
        show_object(agent)


def sandbox_spec(cpu: int | None, memory_mib: int | None) -> SandboxSpec:
    """The sandbox size given on the command line (empty: none given)."""
    sandbox = SandboxSpec()
    if cpu is not None:
        sandbox["cpu"] = cpu
    if memory_mib is not None:
        sandbox["memory_mib"] = memory_mib
    return sandbox


@app.command()
def create(
    name: Annotated[str, typer.Option(help="The agent's name.", show_default=False)],
    instructions: Annotated[str, typer.Option(help="Its system prompt.", show_default=False)],
    description: Description = None,
    model: Model = None,
    vault_id: VaultIds = None,
    vault_group: VaultGroups = None,
    enable_tool: Enabled = None,
    disable_tool: Disabled = None,
    cpu: Cpu = None,
    memory_mib: Memory = None,
    max_duration_ms: MaxDuration = None,
    url: Url = None,
    api_key: ApiKey = None,
    json: AsJson = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the new agent's id, for scripts.")] = False,
) -> None:
    """Create an agent and print it."""
    options = _options(description, model, vault_id, vault_group, enable_tool, disable_tool, max_duration_ms)
    if sandbox := sandbox_spec(cpu, memory_mib):
        options["sandbox"] = sandbox
    with connect(url, api_key) as client:
        agent = client.agents.create(name, instructions, **options)
    if quiet and not json:
        out.print(agent.id)
    else:
        _show(agent, json)


@app.command("list")
def list_agents(
    limit: Annotated[int | None, typer.Option(help="Agents per page (1–250).")] = None,
    cursor: Annotated[str | None, typer.Option(help="nextCursor of the previous page.")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Every agent, across pages.")] = False,
    url: Url = None,
    api_key: ApiKey = None,
    json: AsJson = False,
) -> None:
    """List the active agents, newest first."""
    with connect(url, api_key) as client:
        if all_pages:
            agents = list(client.agents.iterate(limit=limit))
            if json:
                print_json({"agents": [agent.model_dump(mode="json", by_alias=True) for agent in agents]})
                return
            show_agents(agents)
            return
        page = client.agents.list(cursor=cursor, limit=limit)
    if json:
        print_json(page)
        return
    show_agents(page.agents)
    if page.has_more:
        out.print(f"[dim]more: --cursor {page.next_cursor} (or --all)[/dim]")


@app.command()
def get(agent_id: AgentId, url: Url = None, api_key: ApiKey = None, json: AsJson = False) -> None:
    """Print an agent (a deleted one shows isActive false)."""
    with connect(url, api_key) as client:
        agent = client.agents.get(agent_id)
    _show(agent, json)


@app.command()
def update(
    agent_id: AgentId,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    instructions: Annotated[str | None, typer.Option(help="New instructions.")] = None,
    description: Description = None,
    model: Model = None,
    vault_id: VaultIds = None,
    vault_group: VaultGroups = None,
    enable_tool: Enabled = None,
    disable_tool: Disabled = None,
    cpu: Cpu = None,
    memory_mib: Memory = None,
    max_duration_ms: MaxDuration = None,
    clear: Annotated[list[Clearable] | None, typer.Option(help="Clear a field (repeatable).")] = None,
    url: Url = None,
    api_key: ApiKey = None,
    json: AsJson = False,
) -> None:
    """Change the fields given; the others stay as they are."""
    changes = AgentChanges(
        **_options(description, model, vault_id, vault_group, enable_tool, disable_tool, max_duration_ms)
    )
    if name is not None:
        changes["name"] = name
    if instructions is not None:
        changes["instructions"] = instructions
    cleared: dict[str, None] = {field.value.replace("-", "_"): None for field in clear or []}
    changes = cast(AgentChanges, {**changes, **cleared})
    with connect(url, api_key) as client:
        if sandbox := sandbox_spec(cpu, memory_mib):
            changes["sandbox"] = _merged_sandbox(client, agent_id, sandbox)
        if not changes:
            raise typer.BadParameter("give at least one field to change")
        agent = client.agents.update(agent_id, **changes)
    _show(agent, json)


def _merged_sandbox(client: Client, agent_id: str, sandbox: SandboxSpec) -> SandboxSpec:
    # The API replaces the sandbox whole, so a change of one resource keeps the other as it is.
    current = client.agents.get(agent_id).sandbox
    return SandboxSpec(cpu=sandbox.get("cpu", current.cpu), memory_mib=sandbox.get("memory_mib", current.memory_mib))


@app.command()
def delete(agent_id: AgentId, url: Url = None, api_key: ApiKey = None, json: AsJson = False) -> None:
    """Delete an agent: it leaves the list and takes no new runs; its runs stay readable."""
    with connect(url, api_key) as client:
        deleted = client.agents.delete(agent_id)
    if json:
        print_json(deleted)
    else:
        out.print(f"deleted {agent_id}")
