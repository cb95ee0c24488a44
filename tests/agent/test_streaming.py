"""`StreamingModel`: the answer of a streamed request is whole; its text reaches the sink on the way, batched."""

import asyncio
from collections.abc import AsyncIterator, Sequence

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.models.function import AgentInfo, DeltaThinkingCalls, DeltaThinkingPart, FunctionModel
from pydantic_ai.settings import ModelSettings

from agentruns.agent.deps import TextDelta
from agentruns.agent.streaming import StreamingModel

WORDS = [f"word{number} " for number in range(40)]


class ListSink:
    """Keeps every batch; fails on demand."""

    def __init__(self, *, failing: bool = False) -> None:
        self.batches: list[tuple[str, int, list[TextDelta]]] = []
        self.lasts: list[bool] = []
        self.failing = failing

    async def model_text(self, stream: str, chunk: int, deltas: Sequence[TextDelta], *, last: bool = False) -> None:
        if self.failing:
            raise RuntimeError("the database is away")
        self.batches.append((stream, chunk, list(deltas)))
        self.lasts.append(last)


async def _thinking_then_words(
    _messages: list[ModelMessage], _info: AgentInfo
) -> AsyncIterator[str | DeltaThinkingCalls]:
    yield {0: DeltaThinkingPart(content="let me see")}
    for word in WORDS:
        await asyncio.sleep(0.005)
        yield word


def _answer(_messages: list[ModelMessage], _info: AgentInfo | None) -> ModelResponse:
    return ModelResponse(parts=[TextPart("".join(WORDS))])


class UnstreamedModel(Model):
    """A model with no streamed requests (the base class refuses them)."""

    @property
    def model_name(self) -> str:
        return "unstreamed"

    @property
    def system(self) -> str:
        return "test"

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        return _answer(messages, None)


async def _words_at_once(_messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
    for word in WORDS:
        await asyncio.sleep(0)  # each word is its own event, with the event loop turning in between
        yield word


def _run(sink: ListSink, *, streams: bool = True, interval: float = 0.05, fast: bool = False) -> str:
    stream_function = _words_at_once if fast else _thinking_then_words
    wrapped = FunctionModel(_answer, stream_function=stream_function) if streams else UnstreamedModel()
    model = StreamingModel(wrapped, sink, interval=interval)
    return asyncio.run(Agent(model).run("go")).output


def test_text_arrives_in_batches_that_add_up_to_the_answer() -> None:
    sink = ListSink()
    assert _run(sink) == "".join(WORDS)
    streams = {stream for stream, _, _ in sink.batches}
    assert len(streams) == 1
    assert [chunk for _, chunk, _ in sink.batches] == list(range(1, len(sink.batches) + 1))
    deltas = [delta for _, _, batch in sink.batches for delta in batch]
    assert [(d.part_index, d.kind, d.text) for d in deltas if d.kind == "thinking"] == [(0, "thinking", "let me see")]
    text = [delta for delta in deltas if delta.kind == "text"]
    assert "".join(delta.text for delta in text) == "".join(WORDS)
    offsets = [sum(len(delta.text) for delta in text[:index]) for index in range(len(text))]
    assert [delta.offset for delta in text] == offsets
    # 40 words written 5 ms apart, passed on at most every 50 ms: coalesced, yet more than one batch.
    assert 1 < len(text) < len(WORDS)


def test_a_response_complete_within_the_interval_is_passed_on_once_as_the_last_batch() -> None:
    sink = ListSink()
    assert _run(sink, interval=0.5, fast=True) == "".join(WORDS)
    assert sink.lasts == [True]
    assert "".join(delta.text for delta in sink.batches[0][2]) == "".join(WORDS)


def test_a_sink_that_fails_does_not_fail_the_request() -> None:
    assert _run(ListSink(failing=True)) == "".join(WORDS)


def test_a_model_that_cannot_stream_answers_unstreamed() -> None:
    sink = ListSink()
    assert _run(sink, streams=False) == "".join(WORDS)
    assert sink.batches == []
