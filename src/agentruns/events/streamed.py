"""An event as streams send it: its number, name and JSON made once, however many streams send it."""

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from agentruns.storage.queries.events import StoredEvent

READ_BATCH = 500
"""Events read from the log at a time."""
CLOSE = "close"


@dataclass(frozen=True)
class StreamedEvent:
    """One event: its number (none for `close`), its name and its payload as one line of JSON."""

    id: int | None
    name: str
    text: str

    @cached_property
    def sse(self) -> bytes:
        """The event as a server-sent event (`id:`, `event:`, `data:`, CRLF line ends, as sse-starlette
        writes them), encoded once for all its streams. Neither the number, nor the name, nor the compact
        JSON can hold a line break, so each is one line."""
        number = "" if self.id is None else f"id: {self.id}\r\n"
        return f"{number}event: {self.name}\r\ndata: {self.text}\r\n\r\n".encode()


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _header(run_id: str, seq: int, name: str, at: datetime) -> dict[str, Any]:
    return {"type": name, "runId": run_id, "sequence": seq, "timestamp": _iso(at)}


def made(run_id: str, seq: int, name: str, data: dict[str, Any], at: datetime) -> StreamedEvent:
    """An event that is not stored (the said end of a run that ended before the event log existed)."""
    return StreamedEvent(seq, name, json.dumps(_header(run_id, seq, name, at) | data, separators=(",", ":")))


def stored(run_id: str, row: StoredEvent) -> StreamedEvent:
    """A stored event, its payload's stored JSON spliced after the header rather than decoded and encoded
    again (a third of a replay's time). A key in both is the payload's, as JSON readers take the last one."""
    head = json.dumps(_header(run_id, row.seq, row.name, row.created_at), separators=(",", ":"))
    body = row.data_json.strip()  # an object: events are appended with a dict (`EventDraft.data`)
    return StreamedEvent(row.seq, row.name, head if body[1:].lstrip() == "}" else f"{head[:-1]},{body[1:]}")


def closing(run_id: str) -> StreamedEvent:
    """The `close` event that ends every stream."""
    return StreamedEvent(None, CLOSE, json.dumps({"type": CLOSE, "runId": run_id}, separators=(",", ":")))
