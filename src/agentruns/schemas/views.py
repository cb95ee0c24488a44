"""The wire form of stored rows (a run's status and outcome, a step, a usage entry), read through protocols of the
fields each needs: an ORM object, a Core row and a row about to be stored all serve."""

from datetime import datetime
from typing import Any, Protocol

from agentruns.schemas.runs import RunStatus, RunStatusOut, StepOut, StepType, UsageEntryOut


class Timed(Protocol):
    """What a run's duration is computed from."""

    @property
    def started_at(self) -> datetime | None: ...
    @property
    def completed_at(self) -> datetime | None: ...


class Outcome(Timed, Protocol):
    """What a run's status object and outcome show (events, webhooks)."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def output(self) -> str | None: ...
    @property
    def error_code(self) -> str | None: ...
    @property
    def error_message(self) -> str | None: ...


class OrgOutcome(Outcome, Protocol):
    """A run's outcome with the organization it belongs to (webhook deliveries)."""

    @property
    def org_id(self) -> str: ...


class StepFields(Protocol):
    """What a step of the audit trail shows."""

    @property
    def number(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def content(self) -> str | None: ...
    @property
    def tool_name(self) -> str | None: ...
    @property
    def tool_input(self) -> Any: ...
    @property
    def tool_output(self) -> Any: ...
    @property
    def duration_ms(self) -> int | None: ...
    @property
    def timestamp(self) -> datetime: ...


class UsageFields(Protocol):
    """What a usage entry shows."""

    @property
    def number(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def endpoint(self) -> str | None: ...
    @property
    def method(self) -> str | None: ...
    @property
    def status_code(self) -> int | None: ...
    @property
    def cost_micros(self) -> int: ...
    @property
    def prompt_tokens(self) -> int: ...
    @property
    def completion_tokens(self) -> int: ...
    @property
    def cached_tokens(self) -> int: ...
    @property
    def total_tokens(self) -> int: ...
    @property
    def model(self) -> str | None: ...
    @property
    def timestamp(self) -> datetime: ...
    @property
    def metadata_(self) -> dict[str, Any] | None: ...


def duration_ms(run: Timed, now: datetime) -> int | None:
    """How long the run has run: to its end, or to `now` while it runs; None before it starts."""
    if run.started_at is None:
        return None
    end = run.completed_at or now
    return max(0, int((end - run.started_at).total_seconds() * 1000))


def run_outcome(run: Outcome, now: datetime) -> dict[str, Any]:
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


def step_id(run_id: str, number: int) -> str:
    """The public id of a run's step, stable across replays."""
    return f"step_{run_id.removeprefix('run_')}_{number:04d}"


def usage_entry_id(run_id: str, number: int) -> str:
    """The public id of a run's usage entry, stable across replays."""
    return f"usage_{run_id.removeprefix('run_')}_{number:04d}"


def step_out(run_id: str, step: StepFields) -> StepOut:
    """A step as the details (and its `run.step` event) show it."""
    return StepOut(
        id=step_id(run_id, step.number),
        type=StepType(step.type),
        content=step.content,
        tool_name=step.tool_name,
        tool_input=step.tool_input,
        tool_output=step.tool_output,
        duration_ms=step.duration_ms,
        timestamp=step.timestamp,
    )


def entry_out(run_id: str, entry: UsageFields) -> UsageEntryOut:
    """A usage entry as the details (and its `run.usage` event) show it."""
    kind = "api" if entry.kind == "api" else "llm"
    return UsageEntryOut(
        id=usage_entry_id(run_id, entry.number),
        kind=kind,
        service=entry.service,
        endpoint=entry.endpoint,
        method=entry.method,
        status_code=entry.status_code,
        cost_micros=entry.cost_micros,
        prompt_tokens=entry.prompt_tokens,
        completion_tokens=entry.completion_tokens,
        cached_tokens=entry.cached_tokens,
        total_tokens=entry.total_tokens,
        model=entry.model,
        timestamp=entry.timestamp,
        metadata=entry.metadata_,
    )
