"""`agentruns demo`: agentruns at work in one command, from a fresh install to a finished, audited run."""

import os
import time
from dataclasses import replace
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from agentruns.cli.config_file import ConfigFileError, Target, resolve
from agentruns.cli.demo_server import DEFAULT_PORT, DemoServer, ServerFailed, is_agentruns, pick_port, start_server
from agentruns.cli.follow import INTERRUPTED, follow, show_result, succeeded
from agentruns.cli.remote import ApiKey, AsJson, Url, connect, err, fail, out, print_json
from agentruns.client import Client
from agentruns.client.config import DEFAULT_BASE_URL, KEY_VARIABLE, URL_VARIABLE
from agentruns.client.models import RunDetails, RunStatus

MODEL = "offline/scripted"
TOOLS = ["write", "bash", "grep"]
PROMPT = "\n".join(
    [
        "think I will write a short file, let bash count its lines and words, then grep it for the sandbox.",
        'call write {"path": "notes.md", "content": "# agentruns\\n- each run is durable\\n'
        '- each run has its own sandbox\\n- each step is recorded\\n"}',
        'call bash {"command": "wc -l -w notes.md && ls -l"}',
        'call grep {"pattern": "sandbox", "path": "."}',
        "reply I wrote notes.md in this run's workspace, bash counted its lines and words, and grep found the line "
        "about the sandbox. Every call ran in the run's own sandbox and is in its audit trail.",
    ]
)
"""The offline model's directives (see agent/offline.py): a thought, three tool calls, and the answer."""
DATABASE_VARIABLE = "AGENTRUNS_DATABASE_URL"
QUEUED_SECONDS = 60.0
"""How long the run may stay queued before the demo says that no worker takes it."""

Port = Annotated[
    int | None,
    typer.Option(
        min=1, max=65535, show_default=False,
        help=f"Port of the server the demo starts (default: {DEFAULT_PORT}, or a free one if it is taken).",
    ),
]  # fmt: skip
Keep = Annotated[bool, typer.Option("--keep", help="Leave the server the demo started running at the end.")]


def demo(port: Port = None, keep: Keep = False, url: Url = None, api_key: ApiKey = None, json: AsJson = False) -> None:
    """Start a server if none runs, run an agent's task with tools in its sandbox live, and say where to go next.

    It uses the server that --url, AGENTRUNS_URL or the config file names; otherwise the one running at
    127.0.0.1:2728 if you have its key; otherwise it starts `agentruns serve` on the embedded default (a SQLite
    file under ./.agentruns/, a new key) and stops it at the end unless --keep.
    """
    say = err if json else out
    try:
        target = resolve(url, api_key)
    except ConfigFileError as exc:
        fail(str(exc), code=2)
    server: DemoServer | None = None
    if target.url_from is not None:
        if port is not None:
            raise typer.BadParameter(f"--port is for a server the demo starts; it uses {target.url_from}'s instead")
        say.print(f"Using the agentruns server at {target.url} (from {target.url_from}).", soft_wrap=False)
    elif port is None and target.api_key and is_agentruns(DEFAULT_BASE_URL):
        target = replace(target, url=DEFAULT_BASE_URL)
        say.print(f"Using the agentruns server running at {DEFAULT_BASE_URL}.", soft_wrap=False)
    else:
        server = _start(say, target, port)
        target = replace(target, url=server.url, api_key=server.api_key)
    try:
        with connect(target.url, target.api_key) as client:
            details = _run_the_task(say, client, json=json)
    except KeyboardInterrupt:
        say.print("\nstopped.")
        raise typer.Exit(INTERRUPTED) from None
    finally:
        if server is not None and not keep:
            server.stop()
    if json:
        print_json(_summary(target.url, server, keep, details))
    else:
        show_result(details, json=False)
        _next_steps(target.url, server, keep, details)
    if not succeeded(details):
        raise typer.Exit(1)


def _start(say: Console, target: Target, port: int | None) -> DemoServer:
    if port is None and is_agentruns(DEFAULT_BASE_URL):
        say.print(
            f"An agentruns server runs at {DEFAULT_BASE_URL}, but no API key is set for it ({KEY_VARIABLE}, "
            f"--api-key or {target.config}): the demo starts its own.",
            soft_wrap=False,
        )
    chosen = pick_port(port)
    database = "a SQLite file under ./.agentruns/"
    if os.environ.get(DATABASE_VARIABLE):
        database = f"the database of {DATABASE_VARIABLE}"
    say.print(f"Starting agentruns on 127.0.0.1:{chosen} with {database} and a new key.", soft_wrap=False)
    server = start_server(chosen)
    try:
        with say.status("starting the server (it applies the database migrations first)"):
            server.wait_until_ready()
    except ServerFailed as exc:
        fail(f"the demo's server could not start: {exc}")
    except KeyboardInterrupt:
        server.stop()
        say.print("\nstopped.")
        raise typer.Exit(INTERRUPTED) from None
    return server


def _run_the_task(say: Console, client: Client, *, json: bool) -> RunDetails:
    agent = client.agents.create(
        "agentruns demo", "You show what agentruns does.", model=MODEL, enabled_tools=TOOLS,
        description="Created by `agentruns demo`: the offline model, scripted by its prompt.",
    )  # fmt: skip
    created = f"Created the agent {agent.id} on the offline model ({MODEL}): no provider account needed."
    say.print(created, soft_wrap=False)
    run = client.runs.create(agent.id, PROMPT)
    client.runs.exec(run.id)
    say.print("Its run writes a file, runs bash on it and greps it, each in the run's sandbox:\n", soft_wrap=False)
    _wait_for_a_worker(say, client, run.id)
    return follow(client, run.id, json=json, console=say)


def _wait_for_a_worker(say: Console, client: Client, run_id: str) -> None:
    # A server without a worker would leave the run queued for ever: say so rather than wait in silence.
    deadline = time.monotonic() + QUEUED_SECONDS
    with say.status("queued: waiting for a worker"):
        while client.runs.status(run_id).status is RunStatus.QUEUED:
            if time.monotonic() > deadline:
                client.runs.cancel(run_id)
                fail(
                    f"no worker took the run in {QUEUED_SECONDS:.0f} s (it is cancelled): does this server run "
                    "a worker (agentruns serve without --no-worker, or agentruns worker)?"
                )
            time.sleep(0.1)


def _summary(url: str, server: DemoServer | None, keep: bool, details: RunDetails) -> dict[str, Any]:
    kept = server is not None and keep
    return {
        "url": url,
        "serverStarted": server is not None,
        "serverKept": kept,
        "serverPid": server.process.pid if kept and server is not None else None,
        "apiKey": server.api_key if kept and server is not None else None,
        "agentId": details.agent_id,
        "runId": details.id,
        "status": details.status.value,
        "steps": len(details.steps),
        "totalTokens": details.usage.summary.total_tokens,
        "costMicros": details.usage.summary.cost_micros,
        "details": details.model_dump(mode="json", by_alias=True),
    }


def _next_steps(url: str, server: DemoServer | None, keep: bool, details: RunDetails) -> None:
    lines: list[str] = []
    if server is not None and keep:
        lines += [
            f"The server goes on at {url} (process {server.process.pid}: kill {server.process.pid} stops it; its "
            f"log is {escape(str(server.log))}). To use it from this shell:",
            f"  export {URL_VARIABLE}={url} {KEY_VARIABLE}={server.api_key}",
        ]
    elif server is not None:
        lines += [
            f"The demo's server has stopped (agentruns demo --keep leaves it running); {_where_kept()}. To serve "
            "them on your own, with a key of your choice, and use them from another shell:",
            f"  {KEY_VARIABLE}=choose-a-key agentruns serve",
            f"  export {KEY_VARIABLE}=choose-a-key",
        ]
    docs = f"{url}/docs" if server is None or keep else f"{DEFAULT_BASE_URL}/docs"
    lines += [
        "",
        "[bold]Where to go next[/bold]",
        f"  the API's interactive reference   {docs}",
        f"  this run's audit trail            agentruns runs details {details.id}",
        f"  your own prompt, live             agentruns run --agent {details.agent_id} 'reply Hello.'",
        "  every command                     agentruns --help, and docs/cli.md",
        "  the Python SDK                    docs/sdk.md",
        "  real models, the API              docs/models.md, docs/api.md",
    ]
    out.print()
    for line in lines:
        # Paragraphs wrap at words; the indented lines are commands to copy, whole.
        out.print(line, soft_wrap=line.startswith("  "))


def _where_kept() -> str:
    if os.environ.get(DATABASE_VARIABLE):
        return f"the agent and its run stay in the database of {DATABASE_VARIABLE}"
    return "the agent and its run stay in ./.agentruns/"
