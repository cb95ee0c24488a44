"""The egress proxy of one sandbox: HTTP and HTTPS `CONNECT` from its jail, by the run's policy, every connection
recorded.

It listens on a Unix socket that the jail sees (bound in by bubblewrap, bridged to 127.0.0.1 inside by socat: see
`egress/jail.py`). Requests come from the run, so they are parsed by h11 with a bounded head, at most
`MAX_CONNECTIONS` at once, each ended after `IDLE_SECONDS` without traffic. A plain HTTP request is forwarded as
one request (`Connection: close`); a `CONNECT` becomes a tunnel of bytes.
"""

import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import h11

from agentruns.sandbox.egress.access import NetworkAccess
from agentruns.sandbox.egress.log import Connection
from agentruns.sandbox.egress.policy import Verdict
from agentruns.sandbox.egress.relay import CHUNK_BYTES, Counts, Stream, relay
from agentruns.sandbox.egress.targets import BadTarget, RequestTarget, connect_target, http_target

MAX_HEAD_BYTES = 16 * 1024
"""Largest request (or response) head, headers included (a request's may exceed it by one read, HEAD_READ_BYTES)."""
MAX_CONNECTIONS = 32
"""Connections one sandbox may have open through the proxy at once; more are answered 503 (and recorded)."""
HEAD_READ_BYTES = 4096
IDLE_SECONDS = 60.0
DRAIN_SECONDS = 1.0
CONNECT_SECONDS = 10.0
SOCKET_NAME = "egress.sock"
logger = logging.getLogger(__name__)
# Headers of one hop, not passed on (RFC 9110 §7.6.1), plus those naming the proxy.
_HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"proxy-authorization", b"proxy-authenticate",
               b"te", b"trailer", b"upgrade", b"host"}  # fmt: skip


class _Refused(Exception):
    """The request is answered with an error status and recorded as refused."""

    def __init__(self, status: int, reason: str, host: str = "-", port: int = 0, method: str = "") -> None:
        super().__init__(reason)
        self.status, self.reason, self.host, self.port, self.method = status, reason, host, port, method


class EgressProxy:
    """The proxy a sandbox's commands reach the network through; `socket` is where it listens once started."""

    def __init__(self, access: NetworkAccess, directory: Path, owner: tuple[int, int] | None) -> None:
        self.access = access
        self._parent = directory
        self._owner = owner
        self._directory: Path | None = None
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def socket(self) -> Path:
        """The Unix socket the jail's bridge connects to."""
        assert self._directory is not None, "the proxy is not started"
        return self._directory / SOCKET_NAME

    async def start(self) -> None:
        """Listen on a new socket in a directory of its own (mode 0700, the sandbox's host user's)."""
        self._directory = Path(tempfile.mkdtemp(prefix=".egress-", dir=self._parent))
        self._server = await asyncio.start_unix_server(self._accepted, path=self.socket, limit=CHUNK_BYTES)
        os.chmod(self.socket, 0o600)
        if self._owner is not None:
            os.chown(self.socket, *self._owner)
            os.chown(self._directory, *self._owner)

    async def stop(self) -> None:
        """Stop listening, end every connection (recorded as it stands) and remove the socket."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._handle(reader, writer))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        log = self.access.log
        log.opened()
        record = Connection(host="-", port=0, allowed=False, via="proxy", reason="no request")
        try:
            if len(self._handlers) > MAX_CONNECTIONS:
                raise _Refused(503, f"more than {MAX_CONNECTIONS} connections at once")
            record = await _Exchange(self, (reader, writer)).run()
        except _Refused as refused:
            record = Connection(host=refused.host, port=refused.port, allowed=False, via="proxy",
                                method=refused.method, reason=refused.reason)  # fmt: skip
            with contextlib.suppress(OSError, TimeoutError):
                writer.write(_error_response(refused.status, refused.reason))
                await writer.drain()
                writer.write_eof()
                async with asyncio.timeout(DRAIN_SECONDS):  # what the client sent still unread: so that it reads
                    await reader.read(CHUNK_BYTES)  # the answer rather than a reset
        except (OSError, TimeoutError, h11.ProtocolError):
            pass
        except Exception as exc:  # a bug here must end this connection only, recorded, never the proxy
            logger.exception("egress proxy: a connection failed")
            record = dataclasses.replace(record, allowed=False, reason=f"the proxy failed: {type(exc).__name__}")
        finally:
            writer.close()
            log.closed(record)


class _Exchange:
    """One client connection: its request read, decided, and forwarded or refused."""

    def __init__(self, proxy: EgressProxy, client: Stream) -> None:
        self.proxy = proxy
        self.client = client
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        self.counts = Counts()

    async def _next_event(self) -> h11.Event | type[h11.PAUSED]:
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise _Refused(exc.error_status_hint, f"a malformed request: {exc}") from None
            if event is not h11.NEED_DATA:
                return event  # pyright: ignore[reportReturnType]  # narrowed by the test above
            # Small reads while the head is incomplete: h11 bounds only an incomplete head, so a head is at most
            # MAX_HEAD_BYTES plus one read.
            size = HEAD_READ_BYTES if self.h11.their_state is h11.IDLE else CHUNK_BYTES
            async with asyncio.timeout(IDLE_SECONDS):
                self.h11.receive_data(await self.client[0].read(size))

    async def run(self) -> Connection:
        """Serve the request; the record of the connection."""
        request = await self._next_event()
        if not isinstance(request, h11.Request):
            raise _Refused(400, "no request")
        method = request.method.decode("ascii", "replace")[:20]
        try:
            target = connect_target(request.target) if method == "CONNECT" else http_target(request.target)
        except BadTarget as exc:
            raise _Refused(400, str(exc), method=method) from None
        verdict = await self.proxy.access.policy.decide(target.host, target.port)
        if not verdict.allowed:
            raise _Refused(403, f"{verdict.reason}", verdict.host, verdict.port, method)
        server, address, failure = await _open(verdict)
        if server is None:
            return Connection(verdict.host, verdict.port, True, "proxy", method, reason=failure)
        try:
            if method == "CONNECT":
                await self._tunnel(server)
            else:
                await self._forward(request, target, server)
        finally:
            server[1].close()
        return Connection(verdict.host, verdict.port, True, "proxy", method, address=address,
                          sent=self.counts.sent, received=self.counts.received)  # fmt: skip

    async def _tunnel(self, server: Stream) -> None:
        """Answer 200 to the CONNECT, then relay bytes both ways."""
        while (event := await self._next_event()) is not h11.PAUSED and not isinstance(event, h11.EndOfMessage):
            pass
        writer = self.client[1]
        writer.write(self.h11.send(h11.Response(status_code=200, headers=[], reason=b"Connection established")) or b"")
        await writer.drain()
        early, _ = self.h11.trailing_data
        if early:
            self.counts.sent += len(early)
            server[1].write(early)
            await server[1].drain()
        await relay(self.client, server, self.counts, idle_seconds=IDLE_SECONDS)

    async def _forward(self, request: h11.Request, target: RequestTarget, server: Stream) -> None:
        """Send the request to the server in origin form, then its answer back, both through h11."""
        upstream = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        host = target.host if ":" not in target.host else f"[{target.host}]"
        authority = host if target.port == 80 else f"{host}:{target.port}"
        headers = [(b"host", authority.encode("ascii")), *_end_to_end(request.headers), (b"connection", b"close")]
        self._send_up(server, upstream.send(h11.Request(method=request.method, target=target.path, headers=headers)))
        while True:
            event = await self._next_event()
            if isinstance(event, h11.Data):
                self._send_up(server, upstream.send(event))
            elif isinstance(event, h11.EndOfMessage):
                self._send_up(server, upstream.send(h11.EndOfMessage()))
                break
        await server[1].drain()
        await self._answer(upstream, server)

    def _send_up(self, server: Stream, data: bytes | None) -> None:
        if data:
            self.counts.sent += len(data)
            server[1].write(data)

    async def _answer(self, upstream: h11.Connection, server: Stream) -> None:
        """Pass the server's answer on to the client, with `Connection: close`."""
        writer = self.client[1]
        while True:
            try:
                event = upstream.next_event()
            except h11.RemoteProtocolError as exc:
                raise _Refused(502, f"the server's answer is malformed: {exc}") from None
            if event is h11.NEED_DATA:
                async with asyncio.timeout(IDLE_SECONDS):
                    data = await server[0].read(CHUNK_BYTES)
                self.counts.received += len(data)
                upstream.receive_data(data)
                continue
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                headers = [*_end_to_end(event.headers), (b"connection", b"close")]
                event = h11.Response(status_code=event.status_code, headers=headers, reason=event.reason)
            elif not isinstance(event, h11.Data | h11.EndOfMessage):
                return
            writer.write(self.h11.send(event) or b"")
            await writer.drain()
            if isinstance(event, h11.EndOfMessage):
                return


def _end_to_end(headers: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The headers to pass on: not those of one hop, nor those the `Connection` header names."""
    named = {token.strip().lower() for name, value in headers if name == b"connection" for token in value.split(b",")}
    return [(name, value) for name, value in headers if name not in _HOP_BY_HOP and name not in named]


async def _open(verdict: Verdict) -> tuple[Stream | None, str | None, str | None]:
    """A connection to the first of the verdict's (checked) addresses that accepts one: the streams, the address,
    or None and why none did."""
    failure = "no address to connect to"
    for address in verdict.addresses:
        try:
            async with asyncio.timeout(CONNECT_SECONDS):
                streams = await asyncio.open_connection(address, verdict.connect_port, limit=CHUNK_BYTES)
        except (OSError, TimeoutError) as exc:
            failure = f"could not connect to {address}: {exc or 'timed out'}"
            continue
        return streams, address, None
    return None, None, failure


def _error_response(status: int, reason: str) -> bytes:
    """A complete answer refusing a request, with the reason as its body."""
    body = f"agentruns egress proxy: {reason}\n".encode()
    phrase = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway", 503: "Service Unavailable"}.get(status, "Error")
    head = f"HTTP/1.1 {status} {phrase}\r\ncontent-type: text/plain\r\ncontent-length: {len(body)}\r\n"
    return (head + "connection: close\r\n\r\n").encode() + body
