"""The live view of one run in a terminal: a status line with its usage, and each step as it is recorded."""

from contextlib import closing, suppress
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from agentruns.cli.render import money, status_text, step_line
from agentruns.client import Client, NotServedError
from agentruns.client.config import is_settled
from agentruns.client.models import RunEvent, RunStatus

TAIL = 60


class LiveRun:
    """Follows one run's events and shows them; `status` is where the run stands when following ends."""

    def __init__(self, console: Console, run_id: str) -> None:
        self.console = console
        self.run_id = run_id
        self.status = RunStatus.QUEUED
        self.requests = 0
        self.tokens = 0
        self.cost_micros = 0
        self.writing = ""
        self._spinner: Status | None = None

    def line(self) -> str:
        """The status line: state, model requests, tokens, cost and the tail of what the model writes."""
        parts = [status_text(self.status)]
        if self.requests:
            parts.append(f"{self.requests} model requests · {self.tokens} tokens · {money(self.cost_micros)}")
        if self.writing:
            parts.append(f"[dim]{escape(self.writing[-TAIL:].replace(chr(10), ' '))}[/dim]")
        return " · ".join(parts)

    def apply(self, event: RunEvent) -> None:
        """Take one event into the view."""
        data = event.data
        if "status" in data and (event.event == "run.status" or event.is_terminal):
            # A status this client does not know yet keeps the last one on show.
            with suppress(ValueError):
                self.status = RunStatus(str(data["status"]))
        if event.event == "run.text.delta":
            self.writing += str(data.get("delta") or "")
        elif event.event == "run.step" and isinstance(data.get("step"), dict):
            step: dict[str, Any] = data["step"]
            self.writing = ""
            if (shown := step_line(step)) is not None:
                self.console.print(shown)
        elif event.event == "run.usage" and isinstance(data.get("totals"), dict):
            totals: dict[str, Any] = data["totals"]
            self.requests = int(totals.get("modelRequests") or 0)
            self.tokens = int(totals.get("totalTokens") or 0)
            self.cost_micros = int(totals.get("costMicros") or 0)
        if self._spinner is not None:
            self._spinner.update(self.line())

    def follow(self, client: Client) -> RunStatus:
        """Show the run until it ends or waits for an answer; poll its status where events are not served."""
        with self.console.status(self.line()) as spinner:
            self._spinner = spinner
            try:
                with closing(client.runs.stream(self.run_id)) as events:
                    for event in events:
                        self.apply(event)
                        if is_settled(self.status):
                            break
            except NotServedError:
                self.status = self._poll(client, spinner)
            finally:
                self._spinner = None
        return self.status

    def _poll(self, client: Client, spinner: Status) -> RunStatus:
        # Without events the status is all there is to show; wait() polls it with backoff.
        spinner.update(self.line() + " [dim](this server sends no events: polling the status)[/dim]")
        return client.runs.wait(self.run_id).status
