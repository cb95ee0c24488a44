"""The typed answers the client returns: the server's own wire models, under the names the SDK gives them."""

from typing import Any, TypedDict

from pydantic import BaseModel, ConfigDict

from agentruns.schemas.agents import AgentListItem, AgentOut, AgentPage, Deleted, SandboxOut
from agentruns.schemas.execute import ExecuteStarted
from agentruns.schemas.files import WorkspaceEntry, WorkspaceListing
from agentruns.schemas.health import Health
from agentruns.schemas.runs import (
    TERMINAL_STATUSES,
    RunCancelled,
    RunCreated,
    RunDetails,
    RunError,
    RunExecuted,
    RunInputAccepted,
    RunListItem,
    RunPage,
    RunStatus,
    RunStatusOut,
    StepOut,
)
from agentruns.schemas.webhooks import RunWebhooks, SigningSecret, Watching, WebhookAttemptOut, WebhookOut

__all__ = [
    "TERMINAL_EVENTS",
    "TERMINAL_STATUSES",
    "AgentListItem",
    "AgentOut",
    "AgentPage",
    "Deleted",
    "Executed",
    "Health",
    "InputAccepted",
    "RunCancelled",
    "RunCreated",
    "RunDetails",
    "RunError",
    "RunEvent",
    "RunExecuted",
    "RunListItem",
    "RunPage",
    "RunStatus",
    "RunStatusOut",
    "RunWebhooks",
    "SandboxOut",
    "SandboxSpec",
    "SigningSecret",
    "StepOut",
    "Watching",
    "WebhookAttemptOut",
    "WebhookOut",
    "WorkspaceEntry",
    "WorkspaceListing",
]

TERMINAL_EVENTS = frozenset({"run.completed", "run.failed", "run.cancelled", "run.timeout"})
"""The events that end a run's stream (the server then sends `close`)."""


class SandboxSpec(TypedDict, total=False):
    """The sandbox of an agent, as create and update take it."""

    cpu: int
    memory_mib: int


Executed = ExecuteStarted
"""The answer of `POST /agent/v1/execute`: an ephemeral agent's run, already executing."""

InputAccepted = RunInputAccepted
"""The answer of `POST /agent/v1/run/{id}/input`: the waiting run resumes (or still waits for other answers)."""


class RunEvent(BaseModel):
    """One event of a run's stream: its sequence number, its name and its JSON object."""

    model_config = ConfigDict(frozen=True)

    id: int
    event: str
    data: dict[str, Any]

    @property
    def is_terminal(self) -> bool:
        """Whether this is the run's last event (completed, failed, cancelled or timeout)."""
        return self.event in TERMINAL_EVENTS
