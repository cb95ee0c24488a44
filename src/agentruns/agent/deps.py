"""What every tool and hook of a run can reach, and the interfaces through which the loop reports."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic_ai.messages import ModelResponse, ToolCallPart

from agentruns.sandbox.egress.access import NetworkAccess
from agentruns.sandbox.egress.log import Taken
from agentruns.sandbox.protocol import Sandbox
from agentruns.settings import Settings


class Recorder(Protocol):
    """Where the agent loop reports what happens, as it happens. Calls may repeat after a crash and
    replay, in the same order with the same arguments, so implementations key what they store by order."""

    async def model_response(self, response: ModelResponse) -> None:
        """A model request returned this response (its parts and usage)."""
        ...

    async def tool_call(self, call: ToolCallPart) -> None:
        """The model asked for this tool call; it is about to run."""
        ...

    async def tool_result(self, call: ToolCallPart, outcome: "ToolOutcome") -> None:
        """The tool call finished."""
        ...


@dataclass(frozen=True, slots=True)
class TextDelta:
    """Text a model wrote into one part of its response since the last delta of that part."""

    part_index: int
    kind: Literal["text", "thinking"]
    offset: int
    """How many characters of the part came before this text."""
    text: str


class DeltaSink(Protocol):
    """Where the text of a model response goes while the model writes it: best effort, for live display."""

    async def model_text(self, stream: str, chunk: int, deltas: Sequence[TextDelta], *, last: bool = False) -> None:
        """The `chunk`-th batch of text of one streamed attempt at a model request (`stream` names it); `last`: the
        response is complete, so the sink may hold the batch and pass it on with the response's record."""
        ...


ToolHandler = Callable[[], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """What one tool call returned, how long it took, what it printed (for the `runtime` log) and the network
    connections it made (journaled with it, so that a replay records the same)."""

    output: Any
    duration_ms: int
    printed: str
    network: Taken = field(default_factory=Taken)


class ToolRunner(Protocol):
    """Runs one tool call (the engine journals each outcome, so a finished call is never run again)."""

    async def __call__(self, call: ToolCallPart, deps: "RunDeps", handler: ToolHandler) -> ToolOutcome: ...


ModelRequest = Callable[[], Awaitable[ModelResponse]]


class ModelRunner(Protocol):
    """Makes one model request (the engine journals each response, so a finished request is never sent again)."""

    async def __call__(self, request: ModelRequest) -> ModelResponse: ...


async def request_model(request: ModelRequest) -> ModelResponse:
    """Make the model request: the runner of a loop that keeps no journal."""
    return await request()


class Delegation(Protocol):
    """Starts child runs for the `task` tool (the engine stores and enqueues them)."""

    async def start_child(self, tool_call_id: str, agent_id: str | None, prompt: str) -> str:
        """Start a run of an agent of the run's organization (None: the run's own agent); returns its id.

        The same tool call starts the same child, however often it is replayed.

        Raises:
            ValueError: The child cannot be started; the message says why (it goes back to the model).
        """
        ...


class LimitReached(Exception):
    """The run reached one of its limits (`maxModelRequests`, `maxCostMicros`): it stops, with this message."""


@dataclass
class RunDeps:
    """The dependencies of one run's agent loop."""

    run_id: str
    sandbox: Sandbox
    """Where the tools act: commands run in it and files are read and written through it."""
    settings: Settings
    recorder: Recorder
    tool_runner: ToolRunner
    model_runner: ModelRunner = request_model
    deltas: DeltaSink | None = None
    """Where model requests stream their text as it arrives; None sends them unstreamed."""
    children: Delegation | None = None
    """How the `task` tool starts child runs; None where runs cannot have children (tests of the loop)."""
    printed: list[str] = field(default_factory=list[str])
    """What the tool running now has printed; tools run one at a time."""
    todos: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    """The agent's task list (`todowrite`)."""
    network: NetworkAccess | None = None
    """The run's network access (its sandbox's egress proxy and `webfetch` use it); None: the network is off."""
