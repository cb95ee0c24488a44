"""The baselines' trivial SSE server: the same uvicorn as agentruns, the usual SSE library (sse-starlette), no database.

`python -m bench.sse_baseline --port N` serves:

- `GET /stream`: event 1 at once, then every event published, until one named `close`;
- `POST /publish` `{"id", "name", "data"}`: hands the event to every open `/stream` (a queue each);
- `GET /replay?count=N`: N events built one by one as agentruns builds them (`json.dumps` of a payload of the
  same shape), then `close`;
- `GET /health`.

`running_baseline()` starts it as a subprocess for the benchmark.
"""

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from agentruns.api.server import EVENT_LOOP, HTTP_PROTOCOL
from bench.event_payloads import baseline_payload

_subscribers: set[asyncio.Queue[dict[str, Any]]] = set()


def _frame(event: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(
        data=json.dumps(event["data"], separators=(",", ":")), event=event["name"], id=str(event["id"])
    )


async def stream(_: Request) -> Response:
    """Event 1, then what is published, until `close`."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def frames() -> AsyncIterator[ServerSentEvent]:
        _subscribers.add(queue)
        try:
            yield _frame({"id": 1, "name": "run.status", "data": baseline_payload(1)})
            while True:
                event = await queue.get()
                yield _frame(event)
                if event["name"] == "close":
                    return
        finally:
            _subscribers.discard(queue)

    return EventSourceResponse(frames(), ping=15)


async def publish(request: Request) -> Response:
    """Hand the posted event to every subscriber."""
    event = await request.json()
    for queue in list(_subscribers):
        queue.put_nowait(event)
    return Response(status_code=204)


async def replay(request: Request) -> Response:
    """`count` events, then `close`."""
    count = int(request.query_params.get("count", "10000"))

    async def frames() -> AsyncIterator[ServerSentEvent]:
        for number in range(1, count + 1):
            yield _frame({"id": number, "name": "run.step", "data": baseline_payload(number)})
        yield ServerSentEvent(data=json.dumps({"type": "close"}), event="close")

    return EventSourceResponse(frames(), ping=15)


async def health(_: Request) -> Response:
    """Up."""
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/stream", stream),
        Route("/publish", publish, methods=["POST"]),
        Route("/replay", replay),
        Route("/health", health),
    ]
)


@asynccontextmanager
async def running_baseline(port: int) -> AsyncIterator[tuple[str, int]]:
    """Run the server as a subprocess on loopback until the block ends; yields its URL and pid."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.sse_baseline", "--port", str(port), cwd=Path(__file__).resolve().parent.parent
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            for _ in range(600):
                try:
                    if (await http.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("the baseline SSE server did not start")
        yield url, process.pid
    finally:
        process.terminate()
        await process.wait()


def main(argv: list[str] | None = None) -> None:
    """Serve on loopback until killed."""
    parser = argparse.ArgumentParser(prog="python -m bench.sse_baseline", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    # The same HTTP stack as `agentruns serve`, so that the comparison is of what runs on top of it.
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", http=HTTP_PROTOCOL, loop=EVENT_LOOP)


if __name__ == "__main__":
    main()
