"""Agent bodies: create, update (PATCH), the agent, and the list page."""

from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    JsonValue,
    SerializerFunctionWrapHandler,
    StringConstraints,
    WithJsonSchema,
    model_serializer,
    model_validator,
)
from pydantic.config import JsonDict

from agentruns.sandbox.egress.allowlist import ENTRY_PATTERN, MAX_ENTRIES, MAX_ENTRY_LENGTH, parse_entry
from agentruns.schemas.base import NO_NUL, Page, RequestModel, ResponseModel, Timestamp
from agentruns.schemas.catalog import (
    DEFAULT_MODEL,
    MODEL_ID_PATTERN,
    SANDBOX_CPU_DEFAULT,
    SANDBOX_CPU_MAX,
    SANDBOX_CPU_MIN,
    SANDBOX_MEMORY_DEFAULT,
    SANDBOX_MEMORY_MAX,
    SANDBOX_MEMORY_MIN,
    ToolName,
)
from agentruns.schemas.limits import MaxCostMicros, MaxDurationMs, MaxModelRequests

ModelId = Annotated[str, StringConstraints(pattern=MODEL_ID_PATTERN)]
"""`provider/model`, the provider one of anthropic, openai, google, openai-compatible, offline."""

ObjectRef = Annotated[str, NO_NUL, StringConstraints(min_length=1, max_length=200)]
Name = Annotated[str, NO_NUL, StringConstraints(min_length=1, max_length=200)]
Instructions = Annotated[str, NO_NUL, StringConstraints(min_length=1)]  # bounded by the body limit
Description = Annotated[str, NO_NUL, StringConstraints(max_length=5000)]


def _allowlist_entry(value: str) -> str:
    return str(parse_entry(value))  # a BadEntry is a ValueError: a 422 that says which entry and why


# The schema states the grammar as a pattern; the validator checks the same one, after the checks whose messages say
# what is wrong with an entry (a pattern's refusal would only quote the pattern).
AllowEntryText = Annotated[
    str, StringConstraints(max_length=MAX_ENTRY_LENGTH), AfterValidator(_allowlist_entry),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_ENTRY_LENGTH, "pattern": ENTRY_PATTERN}),
]  # fmt: skip
"""`pypi.org`, `*.githubusercontent.com` (every subdomain), either with `:port` (else ports 80 and 443 only)."""


class SandboxNetwork(RequestModel):
    """Where the agent's runs may connect when the deployment gives runs a network (`AGENTRUNS_SANDBOX_NETWORK`
    `proxy`): this allowlist replaces the deployment's default (`AGENTRUNS_SANDBOX_NETWORK_ALLOW`)."""

    allow: list[AllowEntryText] = Field(max_length=MAX_ENTRIES, examples=[["pypi.org", "*.githubusercontent.com"]])


class Sandbox(RequestModel):
    """The resources of the sandbox each run of the agent gets, and where its runs may connect."""

    cpu: int = Field(default=SANDBOX_CPU_DEFAULT, ge=SANDBOX_CPU_MIN, le=SANDBOX_CPU_MAX)
    memory_mib: int = Field(
        default=SANDBOX_MEMORY_DEFAULT, alias="memoryMiB", ge=SANDBOX_MEMORY_MIN, le=SANDBOX_MEMORY_MAX
    )
    network: SandboxNetwork | None = None
    """None (or left out): the deployment's default allowlist."""


def _one_tool_list(enabled: list[ToolName] | None, disabled: list[ToolName] | None) -> None:
    if enabled is not None and disabled is not None:
        raise ValueError("set enabledTools or disabledTools, not both")


# The same rule in JSON Schema, so that the OpenAPI document states it too.
NOT_BOTH_TOOL_LISTS: JsonDict = {
    "not": {
        "required": ["enabledTools", "disabledTools"],
        "properties": {"enabledTools": {"type": "array"}, "disabledTools": {"type": "array"}},
    }
}


def _agent_schema(*examples: JsonDict) -> JsonDict:
    listed: list[JsonValue] = [*examples]
    return {**NOT_BOTH_TOOL_LISTS, "examples": listed}


class AgentCreate(RequestModel):
    """The body of `POST /agent/v1/agents`."""

    model_config = ConfigDict(
        json_schema_extra=_agent_schema(
            {
                "name": "Repo janitor",
                "instructions": "You keep repositories tidy. Report what you changed.",
                "model": "offline/echo",
                "enabledTools": ["bash", "read", "write"],
                "sandbox": {"cpu": 2, "memoryMiB": 2048},
            }
        )
    )

    name: Name
    instructions: Instructions
    description: Description | None = None
    model: ModelId = DEFAULT_MODEL
    vault_ids: list[ObjectRef] = Field(default_factory=list[str], max_length=1000)
    vault_groups: list[ObjectRef] = Field(default_factory=list[str], max_length=1000)
    enabled_tools: list[ToolName] | None = None
    disabled_tools: list[ToolName] | None = None
    sandbox: Sandbox | None = None
    max_duration_ms: MaxDurationMs | None = None
    max_model_requests: MaxModelRequests | None = None
    max_cost_micros: MaxCostMicros | None = None

    @model_validator(mode="after")
    def _check_tool_lists(self) -> Self:
        _one_tool_list(self.enabled_tools, self.disabled_tools)
        return self


class AgentUpdate(RequestModel):
    """The body of `PATCH /agent/v1/agents/{id}`: only the fields sent change; `null` clears a field.

    `name`, `instructions` and `model` cannot be cleared. A cleared `sandbox` returns to the defaults.
    Setting `enabledTools` clears `disabledTools` and the other way round.
    """

    model_config = ConfigDict(json_schema_extra=_agent_schema({"description": None, "disabledTools": ["webfetch"]}))

    # A default of None on a non-nullable type: the field may be left out but not sent as null.
    name: Name = Field(default=None)  # pyright: ignore[reportAssignmentType]
    instructions: Instructions = Field(default=None)  # pyright: ignore[reportAssignmentType]
    model: ModelId = Field(default=None)  # pyright: ignore[reportAssignmentType]
    description: Description | None = None
    vault_ids: list[ObjectRef] | None = Field(default=None, max_length=1000)
    vault_groups: list[ObjectRef] | None = Field(default=None, max_length=1000)
    enabled_tools: list[ToolName] | None = None
    disabled_tools: list[ToolName] | None = None
    sandbox: Sandbox | None = None
    max_duration_ms: MaxDurationMs | None = None
    max_model_requests: MaxModelRequests | None = None
    max_cost_micros: MaxCostMicros | None = None

    @model_validator(mode="after")
    def _check_tool_lists(self) -> Self:
        _one_tool_list(self.enabled_tools, self.disabled_tools)
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, by their Python names."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class SandboxNetworkOut(ResponseModel):
    """The agent's own network allowlist."""

    allow: list[str]


class SandboxOut(ResponseModel):
    """The sandbox resources of an agent, and its network allowlist (null: the deployment's default)."""

    cpu: int
    memory_mib: int = Field(alias="memoryMiB")
    network: SandboxNetworkOut | None = None
    """Left out when the agent has none, so that an agent that never set one reads as it did before."""

    @model_serializer(mode="wrap")
    def _without_default_network(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.network is None:
            data.pop("network", None)
        return data


class AgentOut(ResponseModel):
    """An agent, as create, get and update answer it."""

    id: str
    name: str
    description: str | None
    instructions: str
    model: str
    vault_ids: list[str]
    vault_groups: list[str]
    enabled_tools: list[str] | None
    disabled_tools: list[str] | None
    sandbox: SandboxOut
    max_duration_ms: int | None
    max_model_requests: int | None
    max_cost_micros: int | None
    is_active: bool
    created_at: Timestamp
    updated_at: Timestamp


class AgentListItem(ResponseModel):
    """An agent as the list shows it."""

    id: str
    name: str
    description: str | None
    model: str
    vault_ids: list[str]
    is_active: bool
    created_at: Timestamp
    updated_at: Timestamp


class AgentPage(Page):
    """One page of agents, newest first."""

    agents: list[AgentListItem]


class Deleted(ResponseModel):
    """The answer of a delete."""

    ok: bool = True
