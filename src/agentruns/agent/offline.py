"""The offline model: deterministic, no network, driven by directives in the prompt.

It is what the demo and the tests run on. Each line of the latest user prompt may be a directive:

- `call TOOL {json arguments}`: call that tool; one call per model request, in order.
- `think TEXT`: a thinking part in the first response.
- `reply TEXT`: the final answer (otherwise it summarises what the tools returned).

Any other line is ignored. With no `call` line the model answers at once. Token counts are the number
of whitespace-separated words it read and wrote (at least 1), so they are the same on every run.
"""

import json
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ModelResponsePart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import CompletedStreamedResponse, Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import RunContext
from pydantic_ai.usage import RequestUsage


class DirectiveError(ValueError):
    """A `call` line whose arguments are not a JSON object."""


@dataclass(frozen=True, slots=True)
class Script:
    """What a prompt tells the offline model to do."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list[tuple[str, dict[str, Any]]])
    thoughts: list[str] = field(default_factory=list[str])
    reply: str | None = None


def parse_script(prompt: str) -> Script:
    """Read the directives of a prompt."""
    script = Script()
    reply: str | None = None
    for line in prompt.splitlines():
        verb, _, rest = line.strip().partition(" ")
        if verb == "call":
            name, _, arguments = rest.strip().partition(" ")
            try:
                parsed: object = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                raise DirectiveError(f"the arguments of `call {name}` are not JSON: {exc}") from None
            if not isinstance(parsed, dict):
                raise DirectiveError(f"the arguments of `call {name}` must be a JSON object")
            script.calls.append((name, cast(dict[str, Any], parsed)))
        elif verb == "think":
            script.thoughts.append(rest.strip())
        elif verb == "reply":
            reply = rest.strip()
    return Script(calls=script.calls, thoughts=script.thoughts, reply=reply)


def _words(value: object) -> int:
    return len(str(value).split())


def _latest_prompt(messages: list[ModelMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                    return part.content
    return ""


class OfflineModel(Model):
    """A deterministic model that follows the directives of its prompt (see the module docstring)."""

    def __init__(self, name: str = "scripted") -> None:
        super().__init__()
        self._name = name

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def system(self) -> str:
        return "offline"

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        script = parse_script(_latest_prompt(messages))
        made = sum(
            1 for message in messages if isinstance(message, ModelResponse) for part in message.parts
            if isinstance(part, ToolCallPart)
        )  # fmt: skip
        parts: list[ModelResponsePart] = []
        if made == 0:
            parts += [ThinkingPart(content=thought) for thought in script.thoughts]
        if made < len(script.calls):
            name, arguments = script.calls[made]
            parts.append(ToolCallPart(tool_name=name, args=arguments, tool_call_id=f"offline-call-{made + 1}"))
        else:
            parts.append(TextPart(content=script.reply or self._summary(messages)))
        read = sum(_words(part.content) for message in messages for part in message.parts if hasattr(part, "content"))  # pyright: ignore[reportAttributeAccessIssue, reportUnknownArgumentType, reportUnknownMemberType]
        written = sum(_words(getattr(part, "content", "") or getattr(part, "args", "")) for part in parts)
        return ModelResponse(
            parts=parts,
            model_name=self._name,
            usage=RequestUsage(input_tokens=max(1, read), output_tokens=max(1, written)),
        )

    @staticmethod
    def _summary(messages: list[ModelMessage]) -> str:
        results = [
            f"{part.tool_name}: {part.model_response_str()}"
            for message in messages if isinstance(message, ModelRequest) for part in message.parts
            if isinstance(part, ToolReturnPart)
        ]  # fmt: skip
        if not results:
            return "Done. (offline model: no tool was called)"
        return f"Done: {len(results)} tool call(s).\n" + "\n".join(results)

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        response = await self.request(messages, model_settings, model_request_parameters)
        _, parameters = self.prepare_request(model_settings, model_request_parameters)
        yield CompletedStreamedResponse(response, model_request_parameters=parameters, replay_events=True)
