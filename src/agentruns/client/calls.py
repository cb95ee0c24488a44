"""Each endpoint as a `Call`: method, path, query, body and answer model, shared by the sync and async clients."""

from dataclasses import dataclass, field
from typing import Any, Generic, TypedDict, TypeVar, cast
from urllib.parse import quote

import httpx
from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from agentruns.client.models import (
    AgentOut,
    AgentPage,
    Deleted,
    Executed,
    Health,
    InputAccepted,
    RunCancelled,
    RunCreated,
    RunDetails,
    RunExecuted,
    RunPage,
    RunStatusOut,
    RunWebhooks,
    SandboxSpec,
    SigningSecret,
    Watching,
    WorkspaceListing,
)

Answer = TypeVar("Answer", bound=BaseModel | bytes)

AGENTS = "/agent/v1/agents"
RUNS = "/agent/v1/run"


class AgentOptions(TypedDict, total=False):
    """The optional fields of an agent; on update, `None` clears a field."""

    description: str | None
    model: str
    vault_ids: list[str] | None
    vault_groups: list[str] | None
    enabled_tools: list[str] | None
    disabled_tools: list[str] | None
    sandbox: SandboxSpec | None
    max_duration_ms: int | None


class AgentChanges(AgentOptions, total=False):
    """What an update may change: only the fields given are sent."""

    name: str
    instructions: str


class RunLimits(TypedDict, total=False):
    """A run's own limits (over its agent's and the deployment's) and metadata."""

    metadata: dict[str, str]
    max_duration_ms: int
    max_model_requests: int
    max_cost_micros: int


class RunOptions(RunLimits, total=False):
    """The optional fields of a new run."""

    guidance: str | None
    model: str | None
    object_ids: list[str]
    callback_url: str | None


class ExecuteOptions(RunLimits, total=False):
    """The optional fields of a one-call execute."""

    instructions: str
    model: str
    guidance: str
    vault_ids: list[str]
    object_ids: list[str]
    enabled_tools: list[str]
    disabled_tools: list[str]
    sandbox: SandboxSpec


@dataclass(frozen=True)
class Call(Generic[Answer]):
    """One request and the model its successful answer is parsed into."""

    method: str
    path: str
    answer: type[Answer]
    params: dict[str, str | int] = field(default_factory=dict[str, str | int])
    body: dict[str, Any] | None = None

    def parse(self, response: httpx.Response) -> Answer:
        """The answer as its model (or its bytes, for a file)."""
        if issubclass(self.answer, BaseModel):
            return self.answer.model_validate_json(response.content)
        return cast(Answer, response.content)


def segment(identifier: str) -> str:
    """An id as one path segment, so that no id can reach another path."""
    return quote(identifier, safe="")


def _wire_value(name: str, value: Any) -> Any:
    if name == "sandbox" and isinstance(value, dict):
        spec: dict[str, Any] = dict(value)  # pyright: ignore[reportUnknownArgumentType]
        if "memory_mib" in spec:
            spec["memoryMiB"] = spec.pop("memory_mib")
        return spec
    return value


def to_wire(fields: dict[str, Any]) -> dict[str, Any]:
    """Python field names to the wire's camelCase, keeping `None` (which clears a field on update)."""
    return {to_camel(name): _wire_value(name, value) for name, value in fields.items()}


def _query(**values: str | int | None) -> dict[str, str | int]:
    return {to_camel(name): value for name, value in values.items() if value is not None}


def health() -> Call[Health]:
    """`GET /health`."""
    return Call("GET", "/health", Health)


def create_agent(name: str, instructions: str, options: AgentOptions) -> Call[AgentOut]:
    """`POST /agent/v1/agents`."""
    body = to_wire({"name": name, "instructions": instructions, **options})
    return Call("POST", AGENTS, AgentOut, body=body)


def list_agents(cursor: str | None, limit: int | None) -> Call[AgentPage]:
    """`GET /agent/v1/agents`."""
    return Call("GET", AGENTS, AgentPage, params=_query(cursor=cursor, limit=limit))


def get_agent(agent_id: str) -> Call[AgentOut]:
    """`GET /agent/v1/agents/{id}`."""
    return Call("GET", f"{AGENTS}/{segment(agent_id)}", AgentOut)


def update_agent(agent_id: str, changes: AgentChanges) -> Call[AgentOut]:
    """`PATCH /agent/v1/agents/{id}`."""
    return Call("PATCH", f"{AGENTS}/{segment(agent_id)}", AgentOut, body=to_wire(dict(changes)))


def delete_agent(agent_id: str) -> Call[Deleted]:
    """`DELETE /agent/v1/agents/{id}`."""
    return Call("DELETE", f"{AGENTS}/{segment(agent_id)}", Deleted)


def create_run(agent_id: str, prompt: str, options: RunOptions) -> Call[RunCreated]:
    """`POST /agent/v1/run`."""
    return Call("POST", RUNS, RunCreated, body=to_wire({"agent_id": agent_id, "prompt": prompt, **options}))


def list_runs(
    agent_id: str | None,
    status: str | None,
    cursor: str | None,
    limit: int | None,
    parent_run_id: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Call[RunPage]:
    """`GET /agent/v1/run`; `metadata` filters by each of its pairs (`metadata[KEY]=VALUE`)."""
    params = _query(agent_id=agent_id, status=status, cursor=cursor, limit=limit, parent_run_id=parent_run_id)
    params |= {f"metadata[{key}]": value for key, value in (metadata or {}).items()}
    return Call("GET", RUNS, RunPage, params=params)


def exec_run(run_id: str) -> Call[RunExecuted]:
    """`POST /agent/v1/run/{id}/exec`."""
    return Call("POST", f"{RUNS}/{segment(run_id)}/exec", RunExecuted)


def run_status(run_id: str) -> Call[RunStatusOut]:
    """`GET /agent/v1/run/{id}/status`."""
    return Call("GET", f"{RUNS}/{segment(run_id)}/status", RunStatusOut)


def run_details(run_id: str) -> Call[RunDetails]:
    """`GET /agent/v1/run/{id}/details`."""
    return Call("GET", f"{RUNS}/{segment(run_id)}/details", RunDetails)


def cancel_run(run_id: str) -> Call[RunCancelled]:
    """`POST /agent/v1/run/{id}/cancel`."""
    return Call("POST", f"{RUNS}/{segment(run_id)}/cancel", RunCancelled)


def watch_run(run_id: str, callback_url: str) -> Call[Watching]:
    """`POST /agent/v1/run/{id}/watch`."""
    return Call("POST", f"{RUNS}/{segment(run_id)}/watch", Watching, body={"callbackUrl": callback_url})


def answer_run(run_id: str, answer: str) -> Call[InputAccepted]:
    """`POST /agent/v1/run/{id}/input`."""
    return Call("POST", f"{RUNS}/{segment(run_id)}/input", InputAccepted, body={"answer": answer})


def execute(prompt: str, options: ExecuteOptions) -> Call[Executed]:
    """`POST /agent/v1/execute`."""
    return Call("POST", "/agent/v1/execute", Executed, body=to_wire({"prompt": prompt, **options}))


def list_files(run_id: str) -> Call[WorkspaceListing]:
    """`GET /agent/v1/run/{id}/files`."""
    return Call("GET", f"{RUNS}/{segment(run_id)}/files", WorkspaceListing)


def download_file(run_id: str, path: str) -> Call[bytes]:
    """`GET /agent/v1/run/{id}/files/{path}`: the file's bytes."""
    return Call("GET", f"{RUNS}/{segment(run_id)}/files/{quote(path.lstrip('/'), safe='/')}", bytes)


def run_webhooks(run_id: str) -> Call[RunWebhooks]:
    """`GET /agent/v1/run/{id}/webhooks`."""
    return Call("GET", f"{RUNS}/{segment(run_id)}/webhooks", RunWebhooks)


def signing_secret(*, rotate: bool) -> Call[SigningSecret]:
    """`GET` (or, to rotate it, `POST`) `/agent/v1/webhooks/secret`."""
    return Call("POST" if rotate else "GET", "/agent/v1/webhooks/secret", SigningSecret)


def events_path(run_id: str) -> str:
    """The path of the run's event stream."""
    return f"{RUNS}/{segment(run_id)}/events"
