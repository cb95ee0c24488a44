"""The payload of each kind of event, built from the item it reports (docs/api.md lists them)."""

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Literal, cast

from agentruns.sandbox.egress.log import Connection
from agentruns.schemas.runs import RunStatus, RunStatusOut
from agentruns.services.run_details import duration_ms, entry_out, step_out
from agentruns.storage.models import Run, RunStep, UsageEntry
from agentruns.storage.queries.events import EventDraft


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


def run_outcome(run: Run, now: datetime) -> dict[str, Any]:
    """The run's status object plus how it ended (`output`, or `error`): terminal events' and webhooks' data."""
    data = RunStatusOut(
        id=run.id,
        status=RunStatus(run.status),
        started_at=run.started_at,
        completed_at=run.completed_at,
        duration_ms=duration_ms(run, now),
    ).model_dump(mode="json")
    if run.status == RunStatus.COMPLETED:
        data["output"] = run.output
    if run.error_code is not None:
        data["error"] = {"code": run.error_code, "message": run.error_message or ""}
    return data


def status_changed(run: Run, now: datetime) -> EventDraft:
    """`run.status` for a run that is queued or running; `run.<status>` for the end of the run."""
    status = RunStatus(run.status)
    return EventDraft(f"run.{status.value}" if status.is_terminal else "run.status", run_outcome(run, now))


def run_started(run_id: str, at: datetime) -> EventDraft:
    """`run.status` of a run that a worker starts at `at`: `status_changed` of the run as the start leaves it."""
    run = SimpleNamespace(id=run_id, status=RunStatus.RUNNING.value, started_at=at, completed_at=None, output=None,
                          error_code=None, error_message=None)  # fmt: skip
    return status_changed(cast(Run, run), at)


def _as_stored(row: dict[str, Any]) -> Any:
    """A row about to be stored, read as the model it becomes: `step_out` and `entry_out` only read its
    attributes, and a plain namespace spares the ORM's instrumentation (a third of the cost of a step's event)."""
    return SimpleNamespace(**row)


def step_recorded(run_id: str, row: dict[str, Any]) -> EventDraft:
    """`run.step`: a step of the audit trail, as the details show it."""
    step = step_out(run_id, cast(RunStep, _as_stored(row))).model_dump(mode="json")
    return EventDraft("run.step", {"step": step}, source=f"step:{row['number']}")


def usage_recorded(run_id: str, row: dict[str, Any], totals: UsageTotals) -> EventDraft:
    """`run.usage`: a billable call, as the details show it, and the run's totals after it."""
    entry = entry_out(run_id, cast(UsageEntry, _as_stored(row))).model_dump(mode="json")
    return EventDraft("run.usage", {"entry": entry, "totals": totals.as_json()}, source=f"usage:{row['number']}")


def text_delta(
    *, model_request: int, stream: str, chunk: int, part_index: int, kind: Literal["text", "thinking"], offset: int,
    text: str,
) -> EventDraft:  # fmt: skip
    """`run.text.delta`: text the model wrote since the last delta of the same part."""
    data = {"modelRequest": model_request, "partIndex": part_index, "partKind": kind, "offset": offset, "delta": text}
    return EventDraft("run.text.delta", data, source=f"delta:{stream}:{chunk}:{part_index}")


def network_connection(run_id: str, step: int, index: int, connection: Connection) -> EventDraft:
    """`run.network`: a connection the run's sandbox or `webfetch` asked for, allowed or refused, during the tool
    call that step `step` reports."""
    del run_id  # every event carries it already
    data = {"step": step, **connection.as_event()}
    return EventDraft("run.network", data, source=f"network:{step}:{index}")
