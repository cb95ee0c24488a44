"""Send each model request as a stream and pass its text on while the model writes it, in batches.

The response the request returns is the same as unstreamed; the text on the way is best effort: a batch
that cannot be delivered is logged and dropped, never a reason to fail the request.
"""

import asyncio
import logging
import uuid
from typing import Literal

from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    ModelResponseStreamEvent,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
)
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from agentruns.agent.deps import DeltaSink, TextDelta

log = logging.getLogger("agentruns.streaming")

DELTA_INTERVAL_SECONDS = 0.1
"""A batch of text is passed on this long after its first text: a fast model's tokens are coalesced, and a
response that is complete by then is passed on only with its record (one write fewer)."""


def _text_of(event: ModelResponseStreamEvent) -> tuple[int, Literal["text", "thinking"], str] | None:
    """The text an event adds to its part, if it adds any."""
    if isinstance(event, PartStartEvent):
        part = event.part
        if isinstance(part, TextPart) and part.content:
            return event.index, "text", part.content
        if isinstance(part, ThinkingPart) and part.content:
            return event.index, "thinking", part.content
    elif isinstance(event, PartDeltaEvent):
        delta = event.delta
        if isinstance(delta, TextPartDelta) and delta.content_delta:
            return event.index, "text", delta.content_delta
        if isinstance(delta, ThinkingPartDelta) and delta.content_delta:
            return event.index, "thinking", delta.content_delta
    return None


class _Batcher:
    """Collects one request's text and passes each batch on `interval` seconds after its first text, and at the end."""

    def __init__(self, sink: DeltaSink, interval: float) -> None:
        self._sink = sink
        self._interval = interval
        self._stream = uuid.uuid4().hex[:12]
        self._chunks = 0
        self._pending: dict[tuple[int, str], TextDelta] = {}
        self._offsets: dict[int, int] = {}
        self._timer: asyncio.Task[None] | None = None
        self._sending = asyncio.Lock()

    def add(self, part_index: int, kind: Literal["text", "thinking"], text: str) -> None:
        offset = self._offsets.get(part_index, 0)
        self._offsets[part_index] = offset + len(text)
        held = self._pending.get((part_index, kind))
        if held is None:
            self._pending[(part_index, kind)] = TextDelta(part_index=part_index, kind=kind, offset=offset, text=text)
        else:
            self._pending[(part_index, kind)] = TextDelta(part_index, kind, held.offset, held.text + text)
        if self._timer is None:
            self._timer = asyncio.create_task(self._send_after(self._interval))

    async def _send_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._timer = None
        await asyncio.shield(self.send())  # stopping the timer must not cut a write in half

    async def send(self, *, last: bool = False) -> None:
        """Pass on what was collected (`last`: the response is complete)."""
        async with self._sending:
            if not self._pending:
                return
            deltas = sorted(self._pending.values(), key=lambda delta: delta.part_index)
            self._pending.clear()
            self._chunks += 1
            try:
                await self._sink.model_text(self._stream, self._chunks, deltas, last=last)
            except Exception:
                log.warning("the text of a streaming model response could not be passed on", exc_info=True)

    async def close(self) -> None:
        """Send what is left, as the last batch, and stop the timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.send(last=True)

    def abandon(self) -> None:
        """Stop the timer without sending (the request failed or was cancelled)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class StreamingModel(WrapperModel):
    """A model whose requests are streamed from the wrapped model, their text passed to a sink as it comes."""

    def __init__(self, wrapped: Model, sink: DeltaSink, *, interval: float = DELTA_INTERVAL_SECONDS) -> None:
        super().__init__(wrapped)
        self._sink = sink
        self._interval = interval

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        batcher = _Batcher(self._sink, self._interval)
        try:
            async with self.wrapped.request_stream(messages, model_settings, model_request_parameters) as stream:
                async for event in stream:
                    text = _text_of(event)
                    if text is not None:
                        batcher.add(*text)
                await batcher.close()
                return stream.get()
        except NotImplementedError:  # a model that cannot stream answers in one piece
            batcher.abandon()
            return await self.wrapped.request(messages, model_settings, model_request_parameters)
        except BaseException:
            batcher.abandon()
            raise
