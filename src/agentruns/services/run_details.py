"""Assemble a run's details (the audit trail) from its row, steps, usage entries and logs."""

from collections.abc import Sequence
from datetime import datetime

from agentruns.schemas.runs import (
    Awaited,
    ChildRun,
    FinalResponse,
    Logs,
    Result,
    RunDetails,
    RunError,
    RunStatus,
    StepType,
    Usage,
    UsageSummary,
)
from agentruns.schemas.views import duration_ms, entry_out, step_out
from agentruns.storage.models import Run, RunLog, RunPendingCall, RunStep, UsageEntry, run_view, step_view, usage_view

TreeUsage = tuple[int, int, int, int, int]
"""(cost in micro-dollars, prompt, completion, total and cached tokens) of a run's descendants."""
NO_USAGE: TreeUsage = (0, 0, 0, 0, 0)


def _usage(run: Run, steps: Sequence[RunStep], entries: Sequence[UsageEntry], now: datetime, below: TreeUsage) -> Usage:
    prompt = sum(entry.prompt_tokens for entry in entries)
    completion = sum(entry.completion_tokens for entry in entries)
    cached = sum(entry.cached_tokens for entry in entries)
    cost_below, prompt_below, completion_below, total_below, cached_below = below
    return Usage(
        model=run.model,
        input_tokens=prompt,
        output_tokens=completion,
        cached_tokens=cached,
        tool_calls=sum(1 for step in steps if step.type == StepType.TOOL_CALL),
        duration_ms=duration_ms(run_view(run), now),
        summary=UsageSummary(
            cost_micros=sum(entry.cost_micros for entry in entries) + cost_below,
            total_input_tokens=prompt + prompt_below,
            total_output_tokens=completion + completion_below,
            total_tokens=sum(entry.total_tokens for entry in entries) + total_below,
            cached_tokens=cached + cached_below,
        ),
        entries=[entry_out(run.id, usage_view(entry)) for entry in entries],
    )


def _log_text(logs: Sequence[RunLog], stream: str) -> str:
    return "".join(log.text for log in logs if log.stream == stream)


def run_details_of(
    run: Run,
    steps: Sequence[RunStep],
    entries: Sequence[UsageEntry],
    logs: Sequence[RunLog],
    *,
    now: datetime,
    children: Sequence[Run] = (),
    tree_usage: TreeUsage = NO_USAGE,
    awaited: Sequence[RunPendingCall] = (),
    wait_deadline: datetime | None = None,
) -> RunDetails:
    """The details object of the contract; every field present, null or empty where nothing happened.

    `usage.summary` adds the usage of the run's descendants (`tree_usage`) to its own; everything else in
    `usage` is the run's own.
    """
    error = RunError(code=run.error_code, message=run.error_message or "") if run.error_code else None
    return RunDetails(
        id=run.id,
        agent_id=run.agent_id,
        status=RunStatus(run.status),
        prompt=run.prompt,
        guidance=run.guidance,
        model=run.model,
        object_ids=run.object_ids,
        workflow_id=run.workflow_id,
        provider=run.provider,
        runtime_id=run.runtime_id,
        runtime_state=run.runtime_state,  # pyright: ignore[reportArgumentType]
        created_at=run.created_at,
        started_at=run.started_at,
        completed_at=run.completed_at,
        failed_at=run.failed_at,
        error=error,
        parent_run_id=run.parent_run_id,
        children=[
            ChildRun(
                id=child.id,
                agent_id=child.agent_id,
                status=RunStatus(child.status),
                created_at=child.created_at,
                completed_at=child.completed_at,
            )
            for child in children
        ],
        metadata=run.metadata_,
        max_duration_ms=run.max_duration_ms,
        max_model_requests=run.max_model_requests,
        max_cost_micros=run.max_cost_micros,
        waiting_for=[
            Awaited(
                id=call.tool_call_id,
                kind="run" if call.child_run_id else "question",
                question=call.question,
                run_id=call.child_run_id,
            )
            for call in awaited
        ],
        wait_deadline=wait_deadline,
        result=Result(
            output=run.output,
            output_object_ids=run.output_object_ids,
            final_response=FinalResponse(
                summary=run.summary, created_object_ids=run.created_object_ids, issues=run.issues
            ),
            logs=Logs(runtime=_log_text(logs, "runtime"), runner=_log_text(logs, "runner")),
        ),
        usage=_usage(run, steps, entries, now, tree_usage),
        steps=[step_out(run.id, step_view(step)) for step in steps],
    )
