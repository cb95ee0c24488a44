"""`agentruns run PROMPT`: start a run (of an agent, or agent-less), show it live, end with its output."""

from typing import Annotated

import typer

from agentruns.cli.execute import execute_options, start_execute
from agentruns.cli.follow import follow_to_the_end
from agentruns.cli.remote import ApiKey, AsJson, Url, connect
from agentruns.cli.runs import ObjectIds, run_options


def run(
    prompt: Annotated[str, typer.Argument(help="What to do.", show_default=False)],
    agent: Annotated[
        str | None, typer.Option(help="Run this agent; without it, an agent-less one-call execute.")
    ] = None,
    model: Annotated[str | None, typer.Option(help="provider/model, such as offline/scripted.")] = None,
    instructions: Annotated[str | None, typer.Option(help="System prompt of the agent-less execute.")] = None,
    guidance: Annotated[str | None, typer.Option(help="Extra guidance for this run.")] = None,
    object_id: ObjectIds = None,
    enable_tool: Annotated[
        list[str] | None, typer.Option("--enable-tool", help="Agent-less: only these tools.")
    ] = None,
    disable_tool: Annotated[list[str] | None, typer.Option("--disable-tool", help="Agent-less: not these.")] = None,
    url: Url = None,
    api_key: ApiKey = None,
    json: AsJson = False,
) -> None:
    """Run a prompt and show its progress live, ending with its output (exit status 0 if it completed)."""
    with connect(url, api_key) as client:
        if agent is not None:
            if instructions is not None or enable_tool or disable_tool:
                raise typer.BadParameter("--instructions and the tool lists are the agent's: only without --agent")
            run_id = client.runs.create(agent, prompt, **run_options(guidance, model, object_id)).id
            client.runs.exec(run_id)
        else:
            options = execute_options(
                instructions=instructions, model=model, guidance=guidance, object_ids=object_id,
                enabled_tools=enable_tool, disabled_tools=disable_tool,
            )  # fmt: skip
            run_id = start_execute(client, prompt, options)
        follow_to_the_end(client, run_id, json=json)
