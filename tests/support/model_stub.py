"""An OpenAI-compatible chat-completions server for tests, over real HTTP on loopback.

It follows the same prompt directives as the offline model (`call TOOL {json}`, `reply TEXT`), plus:
`sleep SECONDS` (answer every request that late, noticing a client that hangs up) and `fail STATUS`
(answer every request with that HTTP status). Every answer reports 100 prompt tokens (40 of them
cached) and 20 completion tokens. A request with `stream: true` gets its answer as OpenAI streams it, its
text word by word, `drip SECONDS` apart if the prompt says so. It records each request it receives.
"""

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agentruns.agent.offline import parse_script
from tests.support.model_stream import stream_completion

PROMPT_TOKENS, CACHED_TOKENS, COMPLETION_TOKENS = 100, 40, 20


@dataclass
class Received:
    """One request the stub received."""

    prompt: str
    tool_results: int
    received_at: float = field(default_factory=time.time)
    answered: bool = False
    disconnected_at: float | None = None


@dataclass
class ModelStub:
    """The stub's state: what it received."""

    received: list[Received] = field(default_factory=list[Received])
    lock: threading.Lock = field(default_factory=threading.Lock)

    def requests_for(self, marker: str) -> list[Received]:
        """The requests whose prompt contains `marker`."""
        with self.lock:
            return [request for request in self.received if marker in request.prompt]

    def app(self) -> Starlette:
        """The ASGI app serving `/v1/chat/completions`."""
        return Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])

    async def _chat(self, request: Request) -> Response:
        try:
            body: dict[str, Any] = await request.json()
        except ClientDisconnect:  # the client died mid-request (a SIGKILLed worker)
            return JSONResponse({}, status_code=499)
        messages: list[dict[str, Any]] = body["messages"]
        prompt = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        if not isinstance(prompt, str):
            prompt = " ".join(part.get("text", "") for part in prompt)
        record = Received(prompt=prompt, tool_results=sum(1 for m in messages if m["role"] == "tool"))
        with self.lock:
            self.received.append(record)
        directives: dict[str, str] = {}
        for line in prompt.splitlines():
            verb, _, rest = line.strip().partition(" ")
            directives[verb] = rest
        if "sleep" in directives:
            # Once the body is read, the next ASGI message is the client's disconnect: wait for it or the
            # delay, whichever comes first, without polling (a thousand sleeping requests cost nothing).
            hang_up = asyncio.ensure_future(request.receive())
            try:
                await asyncio.wait_for(asyncio.shield(hang_up), timeout=float(directives["sleep"]))
            except TimeoutError:
                pass
            else:
                record.disconnected_at = time.monotonic()
                return JSONResponse({}, status_code=499)
            finally:
                hang_up.cancel()
        if "fail" in directives:
            status = int(directives["fail"])
            return JSONResponse({"error": {"message": f"stub fails with {status}", "type": "server_error"}}, status)
        record.answered = True
        completion = self._completion(body["model"], prompt, record.tool_results)
        if body.get("stream"):
            drip = float(directives.get("drip") or 0)
            return StreamingResponse(stream_completion(completion, drip), media_type="text/event-stream")
        return JSONResponse(completion)

    @staticmethod
    def _completion(model: str, prompt: str, done: int) -> dict[str, Any]:
        script = parse_script(prompt)
        message: dict[str, Any] = {"role": "assistant", "content": None}
        finish = "stop"
        if done < len(script.calls):
            name, arguments = script.calls[done]
            message["tool_calls"] = [
                {"id": f"call_{done + 1}", "type": "function",
                 "function": {"name": name, "arguments": json.dumps(arguments)}}
            ]  # fmt: skip
            finish = "tool_calls"
        else:
            message["content"] = script.reply or f"stub answer after {done} tool results"
        return {
            "id": f"chatcmpl-{done}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": COMPLETION_TOKENS,
                "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
                "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS},
            },
        }
