"""A scripted event-stream server on loopback, written on raw sockets so that it can cut a stream at any byte."""

import contextlib
import json
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

Ending = Literal["truncated", "ended"]
"""How a cut connection stops: mid-body with no chunked terminator (a broken connection), or cleanly."""


@dataclass(frozen=True)
class Cut:
    """Drop one connection after `at` bytes of its body (taken modulo the body's length + 1)."""

    at: int
    ending: Ending = "truncated"


@dataclass
class Connection:
    """What one connection asked for and what it was sent."""

    path: str
    last_event_id: str | None
    delivered_up_to: int | None = None  # the id of the last whole event sent


@dataclass
class Script:
    """The events of the run and how to treat each connection in turn."""

    events: list[tuple[str, dict[str, Any]]]
    cuts: list[Cut] = field(default_factory=list[Cut])
    retry_ms: int | None = 1
    status: int = 200
    refusals: int | None = None  # how many connections get `status` before the stream is served; None: all
    error_body: bytes = b""
    extra_headers: dict[str, str] = field(default_factory=dict[str, str])
    raw_events: str | None = None  # sent instead of `events` when given, for malformed streams
    resumes: bool = True  # False: a server that ignores Last-Event-ID and replays every event


def encode(script: Script, after: int) -> tuple[bytes, list[tuple[int, int]]]:
    """The body for a connection resuming after event `after`, and (end offset, id) of each whole event."""
    parts: list[str] = []
    ends: list[tuple[int, int]] = []
    size = 0

    def add(text: str, event_id: int | None = None) -> None:
        nonlocal size
        parts.append(text)
        size += len(text.encode())
        if event_id is not None:
            ends.append((size, event_id))

    if script.retry_ms is not None:
        add(f"retry: {script.retry_ms}\n\n")
    add(": keep-alive\n\n")
    if script.raw_events is not None:
        add(script.raw_events)
    else:
        for number, (name, data) in enumerate(script.events, start=1):
            if number > after:
                add(f"id: {number}\nevent: {name}\ndata: {json.dumps(data)}\n\n", number)
        add("event: close\ndata: {}\n\n")
    return "".join(parts).encode(), ends


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        # The client may leave first, as it does after the run's last event.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer()

    def _answer(self) -> None:
        request_line = self.rfile.readline().decode("latin-1").strip()
        headers: dict[str, str] = {}
        while (line := self.rfile.readline().decode("latin-1").strip()) != "":
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        target = request_line.split(" ")[1]
        query = parse_qs(urlsplit(target).query)
        last = headers.get("last-event-id") or (query.get("lastEventId") or [None])[0]
        connection = Connection(urlsplit(target).path, last)
        server = self.server
        assert isinstance(server, _Server)
        script = server.script
        with server.lock:
            server.connections.append(connection)
            refused = script.status != 200 and (script.refusals is None or len(server.connections) <= script.refusals)
            cut = None if refused or not script.cuts else script.cuts.pop(0)
        if refused:
            head = (
                f"HTTP/1.1 {script.status} Error\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(script.error_body)}\r\nConnection: close\r\n"
            )
            extra = "".join(f"{name}: {value}\r\n" for name, value in script.extra_headers.items())
            self.wfile.write((head + extra + "\r\n").encode() + script.error_body)
            return
        body, ends = encode(script, int(last) if last and script.resumes else 0)
        if cut is not None:
            body = body[: cut.at % (len(body) + 1)]
        complete = [event_id for end, event_id in ends if end <= len(body)]
        connection.delivered_up_to = complete[-1] if complete else None
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        for start in range(0, len(body), 7):  # small chunks, so that cuts also fall inside a read
            piece = body[start : start + 7]
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        if cut is None or cut.ending == "ended":
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.script = Script(events=[])
        self.connections: list[Connection] = []


class ScriptedEventServer:
    """The server's URL and what it saw; `load` a new script before each scenario."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        host, port = server.server_address[:2]
        self.base_url = f"http://{host!s}:{port}"

    def load(self, script: Script) -> None:
        """Serve this script from now on, and forget earlier connections."""
        with self._server.lock:
            self._server.script = script
            self._server.connections = []

    @property
    def connections(self) -> list[Connection]:
        """The connections since the last `load`."""
        with self._server.lock:
            return list(self._server.connections)


@contextmanager
def scripted_event_server() -> Iterator[ScriptedEventServer]:
    """Run the server in a thread until the block ends."""
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield ScriptedEventServer(server)
    finally:
        server.shutdown()
        server.server_close()
