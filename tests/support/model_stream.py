"""A chat completion sent the way OpenAI streams it: `chat.completion.chunk` events, then usage, then [DONE]."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any


def _chunk(completion: dict[str, Any], delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": completion["id"],
        "object": "chat.completion.chunk",
        "created": completion["created"],
        "model": completion["model"],
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _pieces(text: str) -> list[str]:
    """The text cut after each space, as a model writes it token by token."""
    pieces: list[str] = []
    for word in text.split(" "):
        pieces.append(word + " ")
    pieces[-1] = pieces[-1][:-1]
    return [piece for piece in pieces if piece]


async def stream_completion(completion: dict[str, Any], drip_seconds: float = 0.0) -> AsyncIterator[bytes]:
    """The completion as server-sent events, waiting `drip_seconds` between pieces of its text."""
    choice = completion["choices"][0]
    message = choice["message"]
    events = [_chunk(completion, {"role": "assistant", "content": ""})]
    events += [_chunk(completion, {"content": piece}) for piece in _pieces(message.get("content") or "")]
    for index, call in enumerate(message.get("tool_calls") or []):
        events.append(_chunk(completion, {"tool_calls": [{"index": index, **call}]}))
    events.append(_chunk(completion, {}, choice["finish_reason"]))
    events.append({**_chunk(completion, {}), "choices": [], "usage": completion["usage"]})
    for number, event in enumerate(events):
        if drip_seconds and 0 < number < len(events) - 2:
            await asyncio.sleep(drip_seconds)
        yield f"data: {json.dumps(event)}\n\n".encode()
    yield b"data: [DONE]\n\n"
