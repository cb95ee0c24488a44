"""The events of a run: what one holds before it is stored (`EventDraft`), and the payload of each kind, built from
the item it reports (docs/api.md lists them)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from agentruns.schemas.runs import RunStatus
from agentruns.schemas.views import Outcome, entry_out, run_outcome, step_out


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An event to append: its name, its payload, and the identity of what it reports (None: unique by
    construction, such as a status change that a conditional update lets happen once)."""

    name: str
    data: dict[str, Any]
    source: str | None = None


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """The run's usage so far, after the entry an event reports."""

    model_requests: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_micros: int

    def as_json(self) -> dict[str, int]:
        """The totals as the event shows them."""
        return {
            "modelRequests": self.model_requests,
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "cachedTokens": self.cached_tokens,
            "totalTokens": self.input_tokens + self.output_tokens,
            "costMicros": self.cost_micros,
        }


def status_changed(run: Outcome, now: datetime) -> EventDraft:
    """`run.status` for a run that is queued or running; `run.<status>` for the end of the run."""
    status = RunStatus(run.status)
    return EventDraft(f"run.{status.value}" if status.is_terminal else "run.status", run_outcome(run, now))


@dataclass(frozen=True, slots=True)
class _NotEnded:
    """A run that is queued or running, as its status event shows it."""

    id: str
    status: str
    started_at: datetime | None
    completed_at: None = None
    output: None = None
    error_code: None = None
    error_message: None = None


def run_queued(run_id: str, at: datetime) -> EventDraft:
    """`run.status` of a run created at `at`: `status_changed` of the run as it is stored."""
    return status_changed(_NotEnded(run_id, RunStatus.QUEUED.value, None), at)


def run_started(run_id: str, at: datetime) -> EventDraft:
    """`run.status` of a run that a worker starts at `at`: `status_changed` of the run as the start leaves it."""
    return status_changed(_NotEnded(run_id, RunStatus.RUNNING.value, at), at)


@dataclass(frozen=True, slots=True)
class _StepRow:
    """A step's row about to be stored, read as `step_out` reads a stored one."""

    number: int
    type: str
    content: str | None
    tool_name: str | None
    tool_input: Any
    tool_output: Any
    duration_ms: int | None
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class _UsageRow:
    """A usage entry's row about to be stored, read as `entry_out` reads a stored one."""

    number: int
    kind: str
    service: str
    endpoint: str | None
    method: str | None
    status_code: int | None
    cost_micros: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    total_tokens: int
    model: str | None
    timestamp: datetime
    metadata_: dict[str, Any] | None


def _fields(row: dict[str, Any], kind: type[_StepRow] | type[_UsageRow]) -> dict[str, Any]:
    """The row's values of the fields of `kind` (a row has more: its run, its output's size)."""
    return {name: row[name] for name in kind.__dataclass_fields__}


def step_recorded(run_id: str, row: dict[str, Any]) -> EventDraft:
    """`run.step`: a step of the audit trail, as the details show it."""
    step = step_out(run_id, _StepRow(**_fields(row, _StepRow))).model_dump(mode="json")
    return EventDraft("run.step", {"step": step}, source=f"step:{row['number']}")


def usage_recorded(run_id: str, row: dict[str, Any], totals: UsageTotals) -> EventDraft:
    """`run.usage`: a billable call, as the details show it, and the run's totals after it."""
    entry = entry_out(run_id, _UsageRow(**_fields(row, _UsageRow))).model_dump(mode="json")
    return EventDraft("run.usage", {"entry": entry, "totals": totals.as_json()}, source=f"usage:{row['number']}")


def text_delta(
    *, model_request: int, stream: str, chunk: int, part_index: int, kind: Literal["text", "thinking"], offset: int,
    text: str,
) -> EventDraft:  # fmt: skip
    """`run.text.delta`: text the model wrote since the last delta of the same part."""
    data = {"modelRequest": model_request, "partIndex": part_index, "partKind": kind, "offset": offset, "delta": text}
    return EventDraft("run.text.delta", data, source=f"delta:{stream}:{chunk}:{part_index}")


def network_connection(step: int, index: int, connection: dict[str, Any]) -> EventDraft:
    """`run.network`: a connection the run's sandbox or `webfetch` asked for, allowed or refused, during the tool
    call that step `step` reports (`connection`: its event data)."""
    return EventDraft("run.network", {"step": step, **connection}, source=f"network:{step}:{index}")
