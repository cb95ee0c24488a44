"""`agentruns execute PROMPT`: the one-call execute on an ephemeral agent, shown live, ending with its output."""

from typing import Annotated

import typer

from agentruns.cli.agents import Cpu, Disabled, Enabled, Memory, Model, VaultIds, sandbox_spec
from agentruns.cli.follow import follow_to_the_end
from agentruns.cli.remote import ApiKey, AsJson, Url, connect, fail
from agentruns.cli.runs import ObjectIds
from agentruns.client import Client, NotServedError
from agentruns.client.calls import ExecuteOptions

Instructions = Annotated[str | None, typer.Option(help="The ephemeral agent's system prompt (default: the server's).")]
Guidance = Annotated[str | None, typer.Option(help="Extra guidance for this run.")]


def execute_options(
    *,
    instructions: str | None = None,
    model: str | None = None,
    guidance: str | None = None,
    vault_ids: list[str] | None = None,
    object_ids: list[str] | None = None,
    enabled_tools: list[str] | None = None,
    disabled_tools: list[str] | None = None,
    cpu: int | None = None,
    memory_mib: int | None = None,
) -> ExecuteOptions:
    """The optional fields of an execute, from the command line (the server validates them)."""
    options = ExecuteOptions()
    if instructions is not None:
        options["instructions"] = instructions
    if model is not None:
        options["model"] = model
    if guidance is not None:
        options["guidance"] = guidance
    if vault_ids:
        options["vault_ids"] = vault_ids
    if object_ids:
        options["object_ids"] = object_ids
    if enabled_tools:
        options["enabled_tools"] = enabled_tools
    if disabled_tools:
        options["disabled_tools"] = disabled_tools
    if sandbox := sandbox_spec(cpu, memory_mib):
        options["sandbox"] = sandbox
    return options


def start_execute(client: Client, prompt: str, options: ExecuteOptions) -> str:
    """Ask the server for the one-call execute; the run's id. A server without the route is told plainly."""
    try:
        return client.execute(prompt, **options).run_id
    except NotServedError:
        fail(
            "this server does not serve the one-call execute (POST /agent/v1/execute) yet: create an agent "
            "(agentruns agents create) and pass its id to agentruns run --agent AGENT_ID PROMPT"
        )


def execute(
    prompt: Annotated[str, typer.Argument(help="What to do.", show_default=False)],
    instructions: Instructions = None,
    model: Model = None,
    guidance: Guidance = None,
    vault_id: VaultIds = None,
    object_id: ObjectIds = None,
    enable_tool: Enabled = None,
    disable_tool: Disabled = None,
    cpu: Cpu = None,
    memory_mib: Memory = None,
    url: Url = None,
    api_key: ApiKey = None,
    json: AsJson = False,
) -> None:
    """Run a prompt at once on an ephemeral agent and show it live, ending with its output (exit status 0 if it
    completed)."""
    options = execute_options(
        instructions=instructions, model=model, guidance=guidance, vault_ids=vault_id, object_ids=object_id,
        enabled_tools=enable_tool, disabled_tools=disable_tool, cpu=cpu, memory_mib=memory_mib,
    )  # fmt: skip
    with connect(url, api_key) as client:
        follow_to_the_end(client, start_execute(client, prompt, options), json=json)
