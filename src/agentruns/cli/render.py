"""How the commands show agents, runs and events to a person (with --json they print the API's JSON instead)."""

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from pydantic import BaseModel
from rich.markup import escape
from rich.table import Table

from agentruns.cli.remote import out
from agentruns.client.models import AgentListItem, RunDetails, RunEvent, RunListItem, RunStatus, StepOut

STATUS_STYLES = {
    RunStatus.QUEUED: "dim",
    RunStatus.RUNNING: "cyan",
    RunStatus.WAITING: "yellow",
    RunStatus.COMPLETED: "green",
    RunStatus.FAILED: "red",
    RunStatus.CANCELLED: "magenta",
    RunStatus.TIMEOUT: "red",
}


def status_text(status: RunStatus | str) -> str:
    """A status in its colour."""
    try:
        style = STATUS_STYLES[RunStatus(status)]
    except ValueError:
        return escape(str(status))
    return f"[{style}]{status}[/{style}]"


def plain(value: Any) -> str:
    """A field's value as one short line of text."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds").replace("+00:00", "Z")
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=True)
    if isinstance(value, dict | list):
        return json.dumps(jsonb_order(value), ensure_ascii=False)
    return str(value)


def jsonb_order(value: Any) -> Any:
    """The value with its objects' keys in PostgreSQL's jsonb order (shorter first, then by their bytes).

    jsonb does not keep the order keys were written in, so every database shows a run the same only in its order.
    """
    if isinstance(value, dict):
        items = cast(dict[str, Any], value)
        ordered = sorted(items, key=lambda key: (len(key.encode()), key.encode()))
        return {key: jsonb_order(items[key]) for key in ordered}
    if isinstance(value, list):
        return [jsonb_order(item) for item in cast(list[Any], value)]
    return value


def clip(text: str, width: int = 100) -> str:
    """The first line of `text`, at most `width` characters."""
    stripped = text.strip()
    line = stripped.splitlines()[0] if stripped else ""
    if len(line) > width or line != stripped:
        return line[: width - 1] + "…"
    return line


def show_object(model: BaseModel, skip: Iterable[str] = ()) -> None:
    """Each field of a model on its own line: `name  value`."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    dumped = model.model_dump(by_alias=True)
    for name, value in dumped.items():
        if name in skip:
            continue
        text = status_text(value) if name == "status" else escape(plain(value))
        table.add_row(name, text)
    out.print(table)


def show_agents(agents: list[AgentListItem]) -> None:
    """A table of agents."""
    table = Table(box=None, pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("name", overflow="ellipsis")
    table.add_column("model", overflow="ellipsis")
    table.add_column("created", no_wrap=True)
    for agent in agents:
        table.add_row(agent.id, escape(agent.name), agent.model, plain(agent.created_at))
    out.print(table if agents else "[dim]no agents[/dim]")


def show_runs(runs: list[RunListItem]) -> None:
    """A table of runs."""
    table = Table(box=None, pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("created", no_wrap=True)
    table.add_column("agent", overflow="ellipsis", max_width=32)
    table.add_column("prompt", overflow="ellipsis", no_wrap=True)
    for run in runs:
        table.add_row(run.id, status_text(run.status), plain(run.created_at), run.agent_id, escape(clip(run.prompt)))
    out.print(table if runs else "[dim]no runs[/dim]")


def step_line(step: StepOut | dict[str, Any]) -> str | None:
    """One step as one line of markup (None for the final output, which is shown on its own)."""
    data = step.model_dump(mode="json", by_alias=True) if isinstance(step, StepOut) else step
    kind, tool = data.get("type"), data.get("toolName")
    if kind == "thinking":
        return f"[dim italic]thinking: {escape(clip(str(data.get('content') or '')))}[/dim italic]"
    if kind == "tool_call":
        return f"[cyan]→ {escape(str(tool))}[/cyan] {escape(clip(plain(data.get('toolInput')), 90))}"
    if kind == "tool_result":
        return f"[green]← {escape(str(tool))}[/green] [dim]{escape(clip(plain(data.get('toolOutput')), 90))}[/dim]"
    return None


def money(micros: int) -> str:
    """Micro-dollars as dollars."""
    return f"${micros / 1_000_000:.4f}"


def show_details(details: RunDetails) -> None:
    """The audit trail: the run's fields, its steps, its output or error, and its usage."""
    show_object(details, skip=("result", "usage", "steps"))
    if details.steps:
        out.print("\n[bold]steps[/bold]")
        for step in details.steps:
            if (line := step_line(step)) is not None:
                out.print(line)
    show_ending(details)


def show_ending(details: RunDetails) -> None:
    """The run's output (or why it did not finish) and what it cost."""
    if details.result.output is not None:
        out.print()
        out.print(details.result.output, markup=False, highlight=False)
    if details.error is not None:
        out.print(f"\n[red]{details.status}: {escape(details.error.code)}: {escape(details.error.message)}[/red]")
    usage = details.usage
    seconds = f"{usage.duration_ms / 1000:.1f} s · " if usage.duration_ms is not None else ""
    out.print(
        f"\n[dim]{status_text(details.status)} · {seconds}{len(details.steps)} steps · "
        f"{usage.summary.total_tokens} tokens · {money(usage.summary.cost_micros)}[/dim]"
    )


ENVELOPE = frozenset({"type", "runId", "sequence", "timestamp"})
"""Fields every event carries; the line shows the rest."""


def event_line(event: RunEvent) -> str:
    """One event as a line of markup, for `runs events`."""
    data = event.data
    number = f"{event.id:>4}"
    if event.event == "run.step" and isinstance(data.get("step"), dict):
        step: dict[str, Any] = data["step"]
        return f"{number} {step_line(step) or '[bold]output[/bold] ' + escape(clip(str(step.get('content') or '')))}"
    if event.event == "run.text.delta":
        return f"{number} [dim]{escape(event.event)}[/dim] {escape(repr(str(data.get('delta') or '')))}"
    if event.event == "run.usage" and isinstance(data.get("totals"), dict):
        totals: dict[str, Any] = data["totals"]
        cost = money(int(totals.get("costMicros") or 0))
        return f"{number} [dim]{escape(event.event)}[/dim] {totals.get('totalTokens')} tokens · {cost}"
    if "status" in data:
        return f"{number} {escape(event.event)} {status_text(str(data['status']))}"
    rest = {name: value for name, value in data.items() if name not in ENVELOPE}
    return f"{number} [dim]{escape(event.event)}[/dim] {escape(clip(plain(rest), 90))}"
