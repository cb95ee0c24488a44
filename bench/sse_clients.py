"""Many SSE subscribers in one process, each noting when every event reaches it: `python -m bench.sse_clients`.

The event benchmark starts it as a subprocess, so that the subscribers' CPU is not the server's. The default
client is raw sockets: asyncio protocols that parse HTTP/1.1 chunked bodies and SSE frames themselves, at a
few microseconds per frame; `--client httpx` uses one httpx `AsyncClient` stream per subscriber instead,
which costs the client far more per frame (the benchmark prints the CPU this process spent).

It talks to the benchmark over its standard streams. It prints `ready` once every subscriber has received a
first event, then `all ID` when every subscriber has received event ID (so that the benchmark can write the
next one), and at the end, when every stream has ended, one JSON line: the receipt times of every event by
id (`time.time()`), the errors, and this process's CPU time.
"""

import argparse
import asyncio
import json
import re
import sys
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

_FRAME_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_ID_LINE = re.compile(rb"(?:^|[\r\n])id: ?(\d+)")


class Tally:
    """Receipt times by event id, across every subscriber, and what each subscriber has seen."""

    def __init__(self, count: int, say: Callable[[str], None] = lambda _: None) -> None:
        self.count = count
        self.say = say
        self.times: dict[int, list[float]] = {}
        self.errors: list[str] = []
        self.first_seen = 0
        self.ended = 0
        self.done = asyncio.Event()
        self.ready = asyncio.Event()

    def saw(self, event_id: int, at: float, first: bool) -> None:
        """A subscriber received event `event_id` at `at`; `first`: its first event."""
        times = self.times.setdefault(event_id, [])
        times.append(at)
        if len(times) == self.count:
            self.say(f"all {event_id}")
        if first:
            self.first_seen += 1
            if self.first_seen == self.count:
                self.ready.set()

    def end(self, error: str | None = None) -> None:
        """A subscriber's stream ended (cleanly, or with `error`)."""
        if error is not None:
            self.errors.append(error)
            if not self.ready.is_set():
                self.first_seen += 1  # a broken subscriber must not hold the start up forever
                if self.first_seen >= self.count:
                    self.ready.set()
        self.ended += 1
        if self.ended == self.count:
            self.done.set()


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class RawStream(asyncio.Protocol):
    """One subscriber on a raw socket: sends the GET, de-chunks the body, notes each frame's id as it lands."""

    def __init__(self, request: bytes, on_event: Callable[[int, float, bool], None], on_end: Callable[..., None]):
        self._request = request
        self._on_event = on_event
        self._on_end = on_end
        self._head = b""
        self._in_body = False
        self._raw = b""  # chunked bytes not decoded yet
        self._left = 0  # bytes of the current chunk's data still to come
        self._body = b""  # decoded bytes of a frame not complete yet
        self._seen_any = False
        self._error: str | None = None
        self._transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        at = time.time()
        if not self._in_body:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data = self._head[:end], self._head[end + 4 :]
            status = head.split(b"\r\n", 1)[0]
            if b" 200 " not in status + b" " or b"chunked" not in head.lower():
                self._error = f"unexpected answer: {head[:300]!r} {data[:300]!r}"
                self._close()
                return
            self._in_body = True
        self._raw += data
        self._decode()
        self._frames(at)

    def _decode(self) -> None:
        while self._raw:
            if self._left == 0:
                line_end = self._raw.find(b"\r\n")
                if line_end < 0:
                    return
                size = int(self._raw[:line_end].split(b";", 1)[0] or b"0", 16)
                self._raw = self._raw[line_end + 2 :]
                if size == 0:  # the body's end
                    self._raw = b""
                    self._close()
                    return
                self._left = size + 2  # the chunk's data and its CRLF
            taken, self._raw = self._raw[: self._left], self._raw[self._left :]
            self._left -= len(taken)
            crlf = max(0, 2 - self._left)  # how many of the chunk's closing CRLF bytes `taken` ends with
            self._body += taken[: len(taken) - crlf] if crlf else taken

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _frames(self, at: float) -> None:
        while True:
            match = _FRAME_END.search(self._body)
            if match is None:
                return
            frame, self._body = self._body[: match.start()], self._body[match.end() :]
            found = _ID_LINE.search(frame)
            if found is not None:
                self._on_event(int(found.group(1)), at, not self._seen_any)
                self._seen_any = True

    def connection_lost(self, exc: Exception | None) -> None:
        error = self._error or (f"connection lost: {exc}" if exc is not None else None)
        self._on_end(error)
        if not self.closed.done():
            self.closed.set_result(None)


async def raw_subscriber(url: str, path: str, headers: dict[str, str], tally: Tally) -> None:
    """One raw-socket subscriber, to the end of its stream."""
    parts = urlsplit(url)
    lines = [f"GET {path} HTTP/1.1", f"Host: {parts.netloc}", "Accept: text/event-stream", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    try:
        _, protocol = await loop.create_connection(
            lambda: RawStream(request, tally.saw, tally.end), parts.hostname or "127.0.0.1", parts.port or 80
        )
    except OSError as exc:
        tally.end(f"cannot connect: {exc}")
        return
    await protocol.closed


async def httpx_subscriber(client: httpx.AsyncClient, path: str, tally: Tally) -> None:
    """One httpx subscriber, to the end of its stream."""
    first = True
    try:
        async with client.stream("GET", path) as response:
            if response.status_code != 200:
                tally.end(f"answered {response.status_code}: {(await response.aread())[:300]!r}")
                return
            async for line in response.aiter_lines():
                if line.startswith("id:"):
                    tally.saw(int(line[3:].strip()), time.time(), first)
                    first = False
    except httpx.HTTPError as exc:
        tally.end(f"{type(exc).__name__}: {exc}")
        return
    tally.end()


async def subscribe_all(
    url: str, path: str, headers: dict[str, str], count: int, client: str, say: Callable[[str], None] = _say
) -> Tally:
    """Open `count` subscribers (at most 100 connecting at once), say `ready`, and wait for every stream to end."""
    tally = Tally(count, say)
    connecting = asyncio.Semaphore(100)
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    timeout = httpx.Timeout(60, read=None)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=timeout) as shared:

        async def one() -> None:
            async with connecting:
                if client == "raw":
                    task = asyncio.create_task(raw_subscriber(url, path, headers, tally))
                else:
                    task = asyncio.create_task(httpx_subscriber(shared, path, tally))
                await asyncio.sleep(0)  # let it connect before the next one takes the slot
            await task

        tasks = [asyncio.create_task(one()) for _ in range(count)]
        await tally.ready.wait()
        say("ready")
        await tally.done.wait()
        await asyncio.gather(*tasks)
    return tally


def main(argv: list[str] | None = None) -> None:
    """Subscribe, and print the report line when every stream has ended."""
    parser = argparse.ArgumentParser(prog="python -m bench.sse_clients", description=__doc__)
    parser.add_argument("--url", required=True, help="the server's base URL")
    parser.add_argument("--path", required=True, help="the stream's path and query")
    parser.add_argument("--count", type=int, default=1000, help="subscribers [1000]")
    parser.add_argument("--key", default="", help="API key sent as a bearer token")
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw", help="how to read the streams [raw]")
    args = parser.parse_args(argv)
    headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
    tally = asyncio.run(subscribe_all(args.url, args.path, headers, args.count, args.client))
    report = {"times": tally.times, "errors": tally.errors[:20], "error_count": len(tally.errors),
              "cpu_seconds": time.process_time()}  # fmt: skip
    _say(json.dumps(report))


if __name__ == "__main__":
    main()
