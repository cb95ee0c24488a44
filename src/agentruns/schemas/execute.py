"""The one-call execute: its body, and its answer."""

from typing import Annotated, Self

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from agentruns.schemas.agents import (
    NOT_BOTH_TOOL_LISTS,
    Instructions,
    ModelId,
    ObjectRef,
    Sandbox,
)
from agentruns.schemas.base import NO_NUL, RequestModel, ResponseModel, Text
from agentruns.schemas.catalog import DEFAULT_MODEL, ToolName
from agentruns.schemas.limits import MaxCostMicros, MaxDurationMs, MaxModelRequests, Metadata
from agentruns.schemas.runs import RunStatus

DEFAULT_INSTRUCTIONS = (
    "You are a careful, general-purpose assistant. Work through the task step by step with the tools you have, "
    "check your results, and finish with a clear, complete answer."
)


class ExecuteCreate(RequestModel):
    """The body of `POST /agent/v1/execute`: an agent made for this one run, and the run."""

    model_config = ConfigDict(
        json_schema_extra={
            **NOT_BOTH_TOOL_LISTS,
            "examples": [{"prompt": "Summarise the files in the workspace.", "model": "offline/scripted"}],
        }
    )

    prompt: Annotated[str, NO_NUL, StringConstraints(min_length=1)]
    instructions: Instructions = DEFAULT_INSTRUCTIONS
    model: ModelId = DEFAULT_MODEL
    guidance: Text | None = None
    vault_ids: list[ObjectRef] | None = Field(default=None, max_length=1000)
    object_ids: list[ObjectRef] | None = Field(default=None, max_length=1000)
    enabled_tools: list[ToolName] | None = None
    disabled_tools: list[ToolName] | None = None
    sandbox: Sandbox | None = None
    metadata: Metadata = Field(default_factory=dict[str, str])
    max_duration_ms: MaxDurationMs | None = None
    max_model_requests: MaxModelRequests | None = None
    max_cost_micros: MaxCostMicros | None = None

    @model_validator(mode="after")
    def _check_tool_lists(self) -> Self:
        if self.enabled_tools is not None and self.disabled_tools is not None:
            raise ValueError("set enabledTools or disabledTools, not both")
        return self


class ExecuteStarted(ResponseModel):
    """The answer of an execute: the run is enqueued and starts as soon as a worker takes it."""

    run_id: str
    agent_id: str
    status: RunStatus
    message: str
