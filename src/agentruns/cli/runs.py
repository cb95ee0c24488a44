"""`agentruns runs`: create, execute, follow, answer and cancel runs on a server."""

from typing import Annotated

import typer

from agentruns.cli.remote import ApiKey, AsJson, Url, connect, fail, out, print_json
from agentruns.cli.render import event_line, show_details, show_object, show_runs
from agentruns.client import NotFoundError
from agentruns.client.calls import RunOptions
from agentruns.client.models import RunStatus

app = typer.Typer(help="Runs: create, exec, status, details, list, cancel, watch, events, input.", no_args_is_help=True)

RunId = Annotated[str, typer.Argument(help="The run's id (run_…).", show_default=False)]
Guidance = Annotated[str | None, typer.Option(help="Extra guidance for this run.")]
RunModel = Annotated[str | None, typer.Option(help="provider/model for this run (overrides the agent's).")]
ObjectIds = Annotated[list[str] | None, typer.Option("--object-id", help="Narrow vault access (repeatable).")]


def run_options(guidance: str | None, model: str | None, object_ids: list[str] | None) -> RunOptions:
    """The optional fields of a new run, from the command line."""
    options = RunOptions()
    if guidance is not None:
        options["guidance"] = guidance
    if model is not None:
        options["model"] = model
    if object_ids:
        options["object_ids"] = object_ids
    return options


@app.command()
def create(
    agent_id: Annotated[str, typer.Argument(help="The agent to run (agent_…).", show_default=False)],
    prompt: Annotated[str, typer.Argument(help="What to do.", show_default=False)],
    guidance: Guidance = None,
    model: RunModel = None,
    object_id: ObjectIds = None,
    callback_url: Annotated[str | None, typer.Option(help="An https:// URL to notify when the run ends.")] = None,
    execute: Annotated[bool, typer.Option("--exec", help="Also start it.")] = False,
    url: Url = None,
    api_key: ApiKey = None,
    json: AsJson = False,
) -> None:
    """Queue a run of an agent (it starts with `runs exec`, or --exec)."""
    options = run_options(guidance, model, object_id)
    if callback_url is not None:
        options["callback_url"] = callback_url
    with connect(url, api_key) as client:
        created = client.runs.create(agent_id, prompt, **options)
        if execute:
            client.runs.exec(created.id)
    if json:
        print_json(created)
    else:
        out.print(created.id if not execute else f"{created.id} started")


@app.command("exec")
def exec_run(run_id: RunId, url: Url = None, api_key: ApiKey = None, json: AsJson = False) -> None:
    """Start a queued run; it runs once (a second exec is a conflict)."""
    with connect(url, api_key) as client:
        executed = client.runs.exec(run_id)
    if json:
        print_json(executed)
    else:
        out.print(f"{executed.id} started (workflow {executed.workflow_id})")


@app.command()
def status(run_id: RunId, url: Url = None, api_key: ApiKey = None, json: AsJson = False) -> None:
    """The run's status and timing."""
    with connect(url, api_key) as client:
        answer = client.runs.status(run_id)
    if json:
        print_json(answer)
    else:
        show_object(answer)


@app.command()
def details(run_id: RunId, url: Url = None, api_key: ApiKey = None, json: AsJson = False) -> None:
    """The run's whole audit trail: steps, output, usage."""
    with connect(url, api_key) as client:
        answer = client.runs.details(run_id)
    if json:
        print_json(answer)
    else:
        show_details(answer)


@app.command("list")
def list_runs(
    agent_id: Annotated[str | None, typer.Option("--agent", help="Only runs of this agent.")] = None,
    run_status: Annotated[RunStatus | None, typer.Option("--status", help="Only runs in this status.")] = None,
    limit: Annotated[int | None, typer.Option(help="Runs per page (1–250).")] = None,
    cursor: Annotated[str | None, typer.Option(help="nextCursor of the previous page.")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Every run, across pages.")] = False,
    url: Url = None,
    api_key: ApiKey = None,
    json: AsJson = False,
) -> None:
    """List runs, newest first."""
    with connect(url, api_key) as client:
        if all_pages:
            runs = list(client.runs.iterate(agent_id=agent_id, status=run_status, limit=limit))
            if json:
                print_json({"runs": [run.model_dump(mode="json", by_alias=True) for run in runs]})
            else:
                show_runs(runs)
            return
        page = client.runs.list(agent_id=agent_id, status=run_status, cursor=cursor, limit=limit)
    if json:
        print_json(page)
        return
    show_runs(page.runs)
    if page.has_more:
        out.print(f"[dim]more: --cursor {page.next_cursor} (or --all)[/dim]")


@app.command()
def cancel(run_id: RunId, url: Url = None, api_key: ApiKey = None, json: AsJson = False) -> None:
    """Cancel a queued, running or waiting run (a finished run keeps its status)."""
    with connect(url, api_key) as client:
        answer = client.runs.cancel(run_id)
    if json:
        print_json(answer)
    else:
        out.print(f"{answer.id} {answer.status}" + (f": {answer.message}" if answer.message else ""))


@app.command()
def watch(
    run_id: RunId,
    callback_url: Annotated[str, typer.Argument(help="The https:// URL to POST to when the run ends.")],
    url: Url = None,
    api_key: ApiKey = None,
    json: AsJson = False,
) -> None:
    """Have the server POST to a URL when the run ends."""
    with connect(url, api_key) as client:
        answer = client.runs.watch(run_id, callback_url)
    if json:
        print_json(answer)
    else:
        out.print(f"watching {run_id}: {answer.callback_url}")


@app.command()
def events(
    run_id: RunId,
    last_event_id: Annotated[int | None, typer.Option(help="Start after this event.")] = None,
    url: Url = None,
    api_key: ApiKey = None,
    json: AsJson = False,
) -> None:
    """Print the run's events as they happen, until it ends (--json: one JSON object a line)."""
    with connect(url, api_key) as client:
        for event in client.runs.stream(run_id, last_event_id=last_event_id):
            if json:
                typer.echo(event.model_dump_json())
            else:
                out.print(event_line(event))


@app.command("input")
def answer(
    run_id: RunId,
    text: Annotated[str, typer.Argument(metavar="ANSWER", help="The answer to the run's question.")],
    url: Url = None,
    api_key: ApiKey = None,
    json: AsJson = False,
) -> None:
    """Answer a waiting run's question; it resumes."""
    with connect(url, api_key) as client:
        try:
            accepted = client.runs.input(run_id, text)
        except NotFoundError:
            client.runs.status(run_id)  # an unknown run is the 404 to report
            fail("this server does not serve run input (POST /agent/v1/run/{id}/input) yet")
    if json:
        print_json(accepted)
    else:
        out.print(f"{accepted.id} {accepted.status}")
