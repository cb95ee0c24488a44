"""Server-sent events on the wire: one JSON object per `data:` line, since the official SDK parses each as JSON."""

from collections.abc import AsyncIterator

from agentruns.events.stream import StreamedEvent


def frame(event: StreamedEvent) -> str:
    """One event as sse-starlette's `ServerSentEvent` writes it (CRLF line ends), written directly: neither the
    number, nor the name, nor the compact JSON can hold a line break."""
    number = "" if event.id is None else f"id: {event.id}\r\n"
    return f"{number}event: {event.name}\r\ndata: {event.text}\r\n\r\n"


async def sse_frames(stream: AsyncIterator[list[StreamedEvent]]) -> AsyncIterator[bytes]:
    """The stream's events as SSE frames (`id:`, `event:`, `data:`), each batch in one write: a replay of
    thousands of events is then sent in a few dozen writes rather than one per event."""
    async for batch in stream:
        yield "".join(frame(event) for event in batch).encode()
