"""Following a started run: live (silently with --json), then its output or details, and the exit status."""

import typer
from rich.console import Console

from agentruns.cli.progress import LiveRun
from agentruns.cli.remote import out, print_json
from agentruns.cli.render import show_ending
from agentruns.client import Client
from agentruns.client.models import RunDetails, RunStatus

INTERRUPTED = 130
"""The exit status after Ctrl-C, as a shell gives it."""


def follow(client: Client, run_id: str, *, json: bool, console: Console = out) -> RunDetails:
    """Wait until the run ends or waits for an answer, showing it live unless `json`; then its details."""
    if json:
        client.runs.wait(run_id)
    else:
        console.print(f"[dim]run {run_id}[/dim]")
        LiveRun(console, run_id).follow(client)
    return client.runs.details(run_id)


def show_result(details: RunDetails, *, json: bool) -> None:
    """The details as JSON, or the output (or error) and the summary line."""
    if json:
        print_json(details)
        return
    show_ending(details)
    if details.status == RunStatus.WAITING:
        out.print(f"the run waits for an answer: agentruns runs input {details.id} ANSWER")


def succeeded(details: RunDetails) -> bool:
    """Whether the run completed, or waits for an answer (which is not a failure)."""
    return details.status in (RunStatus.COMPLETED, RunStatus.WAITING)


def follow_to_the_end(client: Client, run_id: str, *, json: bool) -> None:
    """Follow the run, show how it ended, and exit with status 1 unless it succeeded."""
    try:
        details = follow(client, run_id, json=json)
    except KeyboardInterrupt:
        out.print(f"\nstopped following; the run goes on (agentruns runs cancel {run_id} stops it)")
        raise typer.Exit(INTERRUPTED) from None
    show_result(details, json=json)
    if not succeeded(details):
        raise typer.Exit(1)
