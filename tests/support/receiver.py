"""A webhook receiver for tests: a real HTTPS server on loopback, its certificate from a test CA (trustme).

Each path answers what the test scripts for it, in order (a status, `("hold", seconds)` to answer 200 that
late, or `("redirect", url)`), then 200; it records every request it receives.
"""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trustme
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

Answer = int | tuple[str, float] | tuple[str, str]


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)


@dataclass
class Receiver:
    """What the receiver got, and what it will answer."""

    received: list[Received] = field(default_factory=list[Received])
    script: dict[str, list[Answer]] = field(default_factory=dict[str, list[Answer]])
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, path: str, *answers: Answer) -> str:
        """Script the answers of a path; returns the path."""
        with self.lock:
            self.script[path] = list(answers)
        return path

    def requests_to(self, path: str) -> list[Received]:
        """The requests received on a path, in order."""
        with self.lock:
            return [request for request in self.received if request.path == path]

    def app(self) -> Starlette:
        """The ASGI app: every path, POST only."""
        return Starlette(routes=[Route("/{path:path}", self._receive, methods=["POST"])])

    async def _receive(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        received = Received(path=path, headers=dict(request.headers), body=await request.body())
        with self.lock:
            self.received.append(received)
            answers = self.script.get(path, [])
            answer: Answer = answers.pop(0) if answers else 200
        if isinstance(answer, int):
            return PlainTextResponse(f"answer {answer}", status_code=answer)
        verb, argument = answer
        if verb == "redirect":
            return RedirectResponse(str(argument), status_code=302)
        await asyncio.sleep(float(argument))
        return PlainTextResponse("answer 200 after a while")


@contextmanager
def https_receiver(ca: trustme.CA, directory: Path, *hosts: str) -> Iterator[tuple[Receiver, int]]:
    """Serve a receiver over HTTPS on 127.0.0.1 with a certificate for `hosts` (and 127.0.0.1); yields it and
    its port."""
    receiver = Receiver()
    pem = directory / f"receiver-{len(list(directory.iterdir()))}.pem"
    ca.issue_cert("127.0.0.1", "localhost", *hosts).private_key_and_cert_chain_pem.write_to_path(str(pem))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        receiver.app(),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ssl_certfile=str(pem),
        ssl_keyfile=str(pem),
        timeout_graceful_shutdown=1,  # a held answer whose client died must not hold up the end of the test
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"receiver-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the receiver did not start")
        time.sleep(0.02)
    try:
        yield receiver, port
    finally:
        server.should_exit = True
        thread.join(timeout=30)
