"""Server-sent events on the wire: the response that streams a run's events, lean enough for 1,000 streams.

sse-starlette's `EventSourceResponse` runs five tasks per stream (sender, pinger, two shutdown watchers,
disconnect listener) and enters a cancel scope for every write; with 1,000 streams of one run, that was a
third of the server's time per event and most of the objects a full garbage collection walks. Here a
stream is the request's own task plus one that waits for the client to leave; keep-alives come from the
run's feed (`events.feed`), and the server ends the open streams when it shuts down (`close_streams`).
"""

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Literal

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from agentruns.events.streamed import StreamedEvent

KEEPALIVE = b": keep-alive\r\n\r\n"
"""An SSE comment: clients ignore it; proxies and clients see the connection is alive."""

Ending = Literal["client left", "server closing"]
_open: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, set[Callable[[Ending], None]]]" = (
    weakref.WeakKeyDictionary()
)
"""How to end each open stream, by the event loop that serves it."""
_closing: "weakref.WeakSet[asyncio.AbstractEventLoop]" = weakref.WeakSet()
"""The event loops whose server is shutting down: a stream that opens now ends at once."""


async def sse_frames(stream: AsyncIterator[Sequence[StreamedEvent]]) -> AsyncIterator[bytes]:
    """The stream's events as SSE frames (`StreamedEvent.sse`), each batch in one write: a replay of
    thousands of events is then sent in a few dozen writes rather than one per event. An empty batch is
    sent as a keep-alive comment."""
    async for batch in stream:
        if len(batch) == 1:
            yield batch[0].sse
        else:
            yield b"".join(event.sse for event in batch) if batch else KEEPALIVE


class EventStreamResponse(StreamingResponse):
    """`text/event-stream` from an iterator of frames, until it ends, the client leaves or the server closes."""

    def __init__(self, frames: AsyncIterator[bytes], status_code: int = 200) -> None:
        """`status_code` is there for FastAPI, which reads the default status of a route's response class
        from its signature. The media type is set here, not on the class, where FastAPI would document the
        route's errors as event streams too."""
        # no-store: no cache keeps a live stream; X-Accel-Buffering: nginx passes each event on at once.
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        super().__init__(frames, status_code=status_code, headers=headers, media_type="text/event-stream")
        self.frames = frames

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        frames = self.frames
        start = {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        loop = asyncio.get_running_loop()
        if loop in _closing:  # the server is shutting down: the headers alone, the client comes back later
            await aclose(frames)
            await send(start)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await send(start)
        task = asyncio.current_task()
        assert task is not None, "an ASGI server calls the app in a task"
        ended: list[Ending] = []
        streaming = True

        def end(why: Ending) -> None:
            if streaming and not ended:
                ended.append(why)
                task.cancel()

        watcher = loop.create_task(_until_client_leaves(receive, end))
        streams = _open.setdefault(loop, set())
        streams.add(end)
        try:
            async for chunk in frames:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except asyncio.CancelledError:
            if not ended or task.uncancel() > 0:
                raise  # cancelled by someone else too: the server's task is being cancelled
        finally:
            streaming = False
            streams.discard(end)
            watcher.cancel()
            await aclose(frames)
        if ended != ["client left"]:  # the end of the body, so the client knows the stream ended cleanly
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _until_client_leaves(receive: Receive, end: Callable[[Ending], None]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    end("client left")


async def aclose(frames: AsyncIterator[bytes]) -> None:
    """Close an async generator of frames, running its clean-up (the stream leaves its run's feed)."""
    close = getattr(frames, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


def close_streams() -> None:
    """End every open event stream of this event loop (the server is shutting down): each ends cleanly,
    and its client reconnects, with `Last-Event-ID`, to a server that runs. Streams that open later end at
    once."""
    loop = asyncio.get_running_loop()
    _closing.add(loop)
    for end in list(_open.get(loop, ())):
        end("server closing")
