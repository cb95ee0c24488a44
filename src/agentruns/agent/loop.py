"""The agent loop: one Pydantic AI agent, configured per run, that reports each step as it happens."""

import functools
import time
from dataclasses import dataclass
from typing import Any

from pydantic_ai import Agent, RunContext, Tool
from pydantic_ai.capabilities import AbstractCapability, ResolveModelId
from pydantic_ai.capabilities.abstract import ValidatedToolArgs, WrapModelRequestHandler, WrapToolExecuteHandler
from pydantic_ai.exceptions import ApprovalRequired, CallDeferred
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models import Model, ModelRequestContext, ModelResolutionContext
from pydantic_ai.run import AgentRunResult
from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults, ToolDefinition
from pydantic_ai.toolsets import FunctionToolset
from pydantic_ai.usage import RunUsage, UsageLimits

from agentruns.agent.deps import RunDeps, ToolHandler, ToolOutcome
from agentruns.agent.models import build_model
from agentruns.agent.streaming import StreamingModel
from agentruns.agent.tools import ToolFunction, select_tools
from agentruns.sandbox.egress.log import Taken

AGENT_NAME = "agentruns"
DEFAULT_MODEL_ID = "offline/scripted"


@dataclass(frozen=True, slots=True)
class RunSpec:
    """Everything the loop needs to know about a run, fixed when the run starts."""

    run_id: str
    prompt: str
    instructions: str
    model: str
    enabled_tools: list[str] | None
    disabled_tools: list[str] | None
    max_model_requests: int


RunOutput = str | DeferredToolRequests
"""What the loop ends with: the answer, or the tool calls it waits for (a question, child runs)."""


@dataclass(frozen=True, slots=True)
class Resumption:
    """Where a run that waited goes on from: its messages so far, the results it waited for, its requests."""

    history: list[ModelMessage]
    results: DeferredToolResults
    model_requests: int
    """Model requests the run made before, which count against its `max_model_requests`."""


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


async def run_tool(call: ToolCallPart, deps: RunDeps, handler: ToolHandler) -> ToolOutcome:
    """Run a tool call in memory, timing it and collecting what it printed and the connections it made."""
    deps.printed.clear()
    started = time.perf_counter()
    output = await handler()
    duration_ms = _ms_since(started)
    printed = "".join(deps.printed)
    deps.printed.clear()
    network = await deps.network.log.take() if deps.network is not None else Taken()
    return ToolOutcome(output=output, duration_ms=duration_ms, printed=printed, network=network)


class Recording(AbstractCapability[RunDeps]):
    """Make model requests and run tools through the run's runners, and report each response and tool call to
    the run's recorder."""

    async def wrap_model_request(
        self, ctx: RunContext[RunDeps], *, request_context: ModelRequestContext, handler: WrapModelRequestHandler
    ) -> ModelResponse:
        response = await ctx.deps.model_runner(lambda: handler(request_context))
        await ctx.deps.recorder.model_response(response)
        return response

    async def wrap_tool_execute(
        self,
        ctx: RunContext[RunDeps],
        *,
        call: ToolCallPart,
        tool_def: ToolDefinition,
        args: ValidatedToolArgs,
        handler: WrapToolExecuteHandler,
    ) -> Any:
        await ctx.deps.recorder.tool_call(call)
        started = time.perf_counter()
        try:
            outcome = await ctx.deps.tool_runner(call, ctx.deps, lambda: handler(args))
        except (CallDeferred, ApprovalRequired):
            raise  # the run waits for this call's result, which is recorded when the run resumes
        except Exception as exc:  # a retry request to the model, or a failure: recorded, then passed on
            network = await ctx.deps.network.log.take() if ctx.deps.network is not None else Taken()
            failed = ToolOutcome(
                output={"error": str(exc)}, duration_ms=_ms_since(started), printed="", network=network
            )
            await ctx.deps.recorder.tool_result(call, failed)
            raise
        await ctx.deps.recorder.tool_result(call, outcome)
        return outcome.output

    async def on_tool_execute_error(
        self,
        ctx: RunContext[RunDeps],
        *,
        call: ToolCallPart,
        tool_def: ToolDefinition,
        args: ValidatedToolArgs,
        error: Exception,
    ) -> Any:
        # A failing tool is news for the model, not the end of the run.
        return {"error": f"{type(error).__name__}: {error}"}


def _resolve(ctx: ModelResolutionContext[RunDeps], model_id: str) -> Model:
    model = build_model(model_id, ctx.deps.settings)
    if ctx.deps.deltas is not None and ctx.deps.settings.stream_model_responses:
        return StreamingModel(model, ctx.deps.deltas)
    return model


def build_agent() -> Agent[RunDeps, RunOutput]:
    """The agent every run uses; each run names its own model, instructions and tools."""
    return Agent(
        DEFAULT_MODEL_ID,
        name=AGENT_NAME,
        deps_type=RunDeps,
        output_type=[str, DeferredToolRequests],
        capabilities=[ResolveModelId(_resolve), Recording()],
    )


@functools.cache
def _tool(name: str, function: ToolFunction) -> Tool[RunDeps]:
    # Built once per process: a Tool derives its JSON schema from the function's signature, which took
    # an eighth of a busy worker's CPU when every run built its own.
    return Tool(function, name=name, max_retries=2)


def toolset_for(spec: RunSpec) -> FunctionToolset[RunDeps]:
    """The tools the run may use."""
    selected = select_tools(spec.enabled_tools, spec.disabled_tools)
    return FunctionToolset([_tool(name, function) for name, function in selected.items()])


async def run_loop(
    agent: Agent[RunDeps, RunOutput], spec: RunSpec, deps: RunDeps, resume: Resumption | None = None
) -> AgentRunResult[RunOutput]:
    """Run the agent on the spec (from where it waited, given `resume`) until it answers or waits."""
    return await agent.run(
        None if resume else spec.prompt,
        message_history=resume.history if resume else None,
        deferred_tool_results=resume.results if resume else None,
        usage=RunUsage(requests=resume.model_requests) if resume else None,
        model=spec.model,
        instructions=spec.instructions,
        toolsets=[toolset_for(spec)],
        deps=deps,
        usage_limits=UsageLimits(request_limit=spec.max_model_requests),
    )
