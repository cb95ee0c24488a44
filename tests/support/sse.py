"""Read a server-sent event stream over real HTTP, line by line, as a browser's EventSource would."""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Frame:
    """One event (`id`, `event`, `data` parsed as JSON) or, with `comment` set, one comment line."""

    id: int | None = None
    event: str | None = None
    data: Any = None
    comment: str | None = None
    raw: list[str] = field(default_factory=list[str])


def frames(response: httpx.Response) -> Iterator[Frame]:
    """The frames of a streamed response, each as soon as its blank line arrives."""
    current = Frame()
    for line in response.iter_lines():
        if line.startswith(":"):
            yield Frame(comment=line[1:].strip(), raw=[line])
            continue
        if line == "":
            if current.raw:
                yield current
            current = Frame()
            continue
        current.raw.append(line)
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            current.id = int(value)
        elif name == "event":
            current.event = value
        elif name == "data":
            assert current.data is None, "one data line per event"
            current.data = json.loads(value)


def events_of(
    client: httpx.Client, run_id: str, *, after: int | None = None, header: int | None = None, stop_after: int = 0
) -> list[Frame]:
    """Read the run's stream (from `lastEventId=after` and/or `Last-Event-ID: header`) until it ends, or
    until `stop_after` events when it is positive (then hang up); keep-alive comments are skipped."""
    params = {} if after is None else {"lastEventId": after}
    headers = {} if header is None else {"Last-Event-ID": str(header)}
    read: list[Frame] = []
    with client.stream("GET", f"/agent/v1/run/{run_id}/events", params=params, headers=headers) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for frame in frames(response):
            if frame.comment is not None:
                continue
            read.append(frame)
            if stop_after and len(read) == stop_after:
                break
    return read
