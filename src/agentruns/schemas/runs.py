"""Run bodies: create, the list page, status and the details (the audit trail)."""

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints

from agentruns.schemas.agents import ModelId, ObjectRef
from agentruns.schemas.base import NO_NUL, Page, RequestModel, ResponseModel, Text, Timestamp
from agentruns.schemas.limits import MaxCostMicros, MaxDurationMs, MaxModelRequests, Metadata
from agentruns.schemas.webhooks import CallbackUrl


class RunStatus(StrEnum):
    """Where a run is in its life: `queued → running (⇄ waiting) → completed | failed | cancelled | timeout`."""

    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"

    @property
    def is_terminal(self) -> bool:
        """Whether the run has ended for good."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.TIMEOUT})


class RunCreate(RequestModel):
    """The body of `POST /agent/v1/run`. Creating a run queues it; `exec` starts it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "agentId": "agent_01jc0000000000000000000000",
                    "prompt": "List the files in the workspace and summarise them.",
                    "guidance": "Be brief.",
                }
            ]
        }
    )

    agent_id: Annotated[str, NO_NUL, StringConstraints(min_length=1, max_length=100)]
    prompt: Annotated[str, NO_NUL, StringConstraints(min_length=1)]
    guidance: Text | None = None
    model: ModelId | None = None
    object_ids: list[ObjectRef] = Field(default_factory=list[str], max_length=1000)
    callback_url: CallbackUrl | None = None
    metadata: Metadata = Field(default_factory=dict[str, str])
    max_duration_ms: MaxDurationMs | None = None
    max_model_requests: MaxModelRequests | None = None
    max_cost_micros: MaxCostMicros | None = None


class RunCreated(ResponseModel):
    """The answer of a create."""

    id: str
    agent_id: str
    status: RunStatus
    object_ids: list[str]
    metadata: dict[str, str]
    created_at: Timestamp


class RunInput(RequestModel):
    """The body of `POST /agent/v1/run/{id}/input`: the answer to the question the run waits on."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"answer": "Use the 2024 figures."}]})

    answer: Annotated[str, NO_NUL, StringConstraints(min_length=1)]
    question_id: Annotated[str, NO_NUL, StringConstraints(min_length=1, max_length=200)] | None = None
    """Which question, when the run waits on several (`waitingFor[].id`); by default the first."""


class RunInputAccepted(ResponseModel):
    """The answer of an input: `running` once nothing else is awaited, else still `waiting`."""

    id: str
    status: RunStatus
    message: str


class RunExecuted(ResponseModel):
    """The answer of an exec: the workflow is enqueued; the run starts as soon as a worker takes it."""

    id: str
    status: RunStatus
    workflow_id: str
    message: str


class RunCancelled(ResponseModel):
    """The answer of a cancel; `message` says why nothing changed when the run had already ended."""

    id: str
    status: RunStatus
    message: str | None = None


class RunListItem(ResponseModel):
    """A run as the list shows it (`prompt` cut to 200 characters)."""

    id: str
    agent_id: str
    status: RunStatus
    prompt: str
    model: str
    parent_run_id: str | None
    metadata: dict[str, str]
    created_at: Timestamp
    started_at: Timestamp | None
    completed_at: Timestamp | None


class RunPage(Page):
    """One page of runs, newest first."""

    runs: list[RunListItem]


class RunStatusOut(ResponseModel):
    """The cheap status answer; `durationMs` grows while the run runs."""

    id: str
    status: RunStatus
    started_at: Timestamp | None
    completed_at: Timestamp | None
    duration_ms: int | None


class FinalResponse(ResponseModel):
    """The agent's compact summary of its work."""

    summary: str | None
    created_object_ids: list[str]
    issues: list[str]


class Logs(ResponseModel):
    """`runner`: what the worker did; `runtime`: what the tools printed."""

    runtime: str
    runner: str


class Result(ResponseModel):
    """What the run produced."""

    output: str | None
    output_object_ids: list[str]
    final_response: FinalResponse
    logs: Logs


class UsageSummary(ResponseModel):
    """Totals over every usage entry of the run and of its child runs (and theirs)."""

    cost_micros: int
    total_input_tokens: int
    total_output_tokens: int
    total_tokens: int
    cached_tokens: int


class UsageEntryOut(ResponseModel):
    """One billable call: each model request is one `llm` entry."""

    id: str
    kind: Literal["llm", "api"]
    service: str | None
    endpoint: str | None
    method: str | None
    status_code: int | None
    cost_micros: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    total_tokens: int
    model: str | None
    timestamp: Timestamp
    metadata: Any


class Usage(ResponseModel):
    """Token usage and cost of the run."""

    model: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    tool_calls: int
    duration_ms: int | None
    summary: UsageSummary
    entries: list[UsageEntryOut]


class StepType(StrEnum):
    """What a step records."""

    OUTPUT = "output"
    THINKING = "thinking"
    TOOL_CALL = "tool_call"
    TOOL_RESULT = "tool_result"


class StepOut(ResponseModel):
    """One action of the agent, in the order it happened."""

    id: str
    type: StepType
    content: str | None
    tool_name: str | None
    tool_input: Any
    tool_output: Any
    duration_ms: int | None
    timestamp: Timestamp


class RunError(ResponseModel):
    """Why a run failed or timed out."""

    code: str
    message: str


class Awaited(ResponseModel):
    """What a waiting run waits for: the answer to a `question`, or the end of a child run (`task`)."""

    id: str
    """The tool call's id; `questionId` of an input."""
    kind: Literal["question", "run"]
    question: str | None
    run_id: str | None


class ChildRun(ResponseModel):
    """A run started by this run's agent."""

    id: str
    agent_id: str
    status: RunStatus
    created_at: Timestamp
    completed_at: Timestamp | None


class RunDetails(ResponseModel):
    """The whole audit trail of a run."""

    id: str
    agent_id: str
    status: RunStatus
    prompt: str
    guidance: str | None
    model: str
    object_ids: list[str]
    workflow_id: str | None
    provider: str | None
    runtime_id: str | None
    runtime_state: Literal["running", "stopped", "archived", "ended", "error"] | None
    created_at: Timestamp
    started_at: Timestamp | None
    completed_at: Timestamp | None
    failed_at: Timestamp | None
    error: RunError | None
    parent_run_id: str | None
    children: list[ChildRun]
    metadata: dict[str, str]
    max_duration_ms: int | None
    max_model_requests: int | None
    max_cost_micros: int | None
    waiting_for: list[Awaited]
    wait_deadline: Timestamp | None
    result: Result
    usage: Usage
    steps: list[StepOut]
