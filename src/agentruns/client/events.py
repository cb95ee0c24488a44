"""Following one run's event stream across connections: each event once, resuming after the last one seen."""

import json
from typing import Any

import httpx
from httpx_sse import ServerSentEvent

from agentruns.client.errors import StreamError
from agentruns.client.models import RunEvent
from agentruns.client.retries import RetryPolicy

CLOSE_EVENT = "close"
"""What the server sends after a run's terminal event, before it ends the stream."""


class EventTracker:
    """The state of one `stream()`: the last event id seen, whether the stream has ended, and reconnect pacing.

    Connections come and go; the tracker lives across them, so that a new connection resumes with
    `Last-Event-ID` and an event the server replays is never yielded twice.
    """

    def __init__(self, policy: RetryPolicy, last_event_id: int | None = None) -> None:
        self.policy = policy
        self.last_id = last_event_id
        self.finished = False
        self.fruitless = 0  # connections in a row that brought no new event
        self.server_delay: float | None = None

    def headers(self) -> dict[str, str]:
        """The headers of the next connection."""
        return {} if self.last_id is None else {"Last-Event-ID": str(self.last_id)}

    def accept(self, sse: ServerSentEvent) -> RunEvent | None:
        """The event to hand to the caller, or None for a replayed event or the closing one."""
        if sse.retry is not None:
            self.server_delay = sse.retry / 1000
        if sse.event == CLOSE_EVENT:
            self.finished = True
            return None
        if not sse.data:
            return None  # a block without data (a bare `retry:`) is no event, as the SSE standard says
        try:
            event_id = int(sse.id)
        except ValueError:
            raise StreamError(f"event {sse.event!r} has no integer id (id: {sse.id!r})") from None
        if self.last_id is not None and event_id <= self.last_id:
            return None
        event = RunEvent(id=event_id, event=sse.event, data=_data_of(sse))
        self.last_id = event_id
        self.fruitless = 0
        self.finished = event.is_terminal
        return event

    def delay_before_reconnect(self, response: httpx.Response | None, *, opened: bool) -> float | None:
        """Seconds to wait before connecting again, or None to give up.

        Args:
            response: the error answer that refused the connection, or None when the connection broke.
            opened: whether the connection was open (an event stream) before it ended.
        """
        attempt = self.fruitless
        self.fruitless += 1
        if response is None and opened and self.server_delay is not None and attempt < self.policy.max_reconnects:
            return self.server_delay
        return self.policy.delay_after(attempt, response, budget=self.policy.max_reconnects)


def check_event_stream(response: httpx.Response) -> None:
    """Refuse an answer that is not an event stream (a proxy's page, say) before reading it as one."""
    content_type = response.headers.get("content-type", "").partition(";")[0].strip()
    if content_type != "text/event-stream":
        raise StreamError(f"expected an event stream, got {response.status_code} with {content_type or 'no'} content")


def _data_of(sse: ServerSentEvent) -> dict[str, Any]:
    try:
        data = json.loads(sse.data)
    except ValueError:
        raise StreamError(f"event {sse.id} ({sse.event}) carries data that is not JSON: {sse.data[:200]!r}") from None
    if not isinstance(data, dict):
        raise StreamError(f"event {sse.id} ({sse.event}) carries JSON that is not an object: {sse.data[:200]!r}")
    return data  # pyright: ignore[reportUnknownVariableType]
