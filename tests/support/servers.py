"""A real agentruns API server on loopback: run by uvicorn in a background thread, or `agentruns serve` as a
subprocess."""

import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from starlette.types import ASGIApp

from agentruns.api.app import create_app
from agentruns.api.server import api_server
from agentruns.settings import Settings
from tests.support.workers import AGENTRUNS


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(settings: Settings) -> Iterator[str]:
    """Serve the API (no worker) with these settings until the block ends; yields its base URL."""
    with serving(create_app(settings)) as url:
        yield url


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Serve an ASGI app on loopback until the block ends; yields its base URL."""
    port = free_port()
    server = api_server(app, host="127.0.0.1", port=port, log_level="warning")
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@dataclass
class ServeProcess:
    """An `agentruns serve` subprocess, its base URL, and, once it stopped, what it printed."""

    process: "subprocess.Popen[bytes]"
    url: str
    output: str = ""


@contextmanager
def agentruns_serve(env: Mapping[str, str], cwd: Path | None = None) -> Iterator[ServeProcess]:
    """`agentruns serve` on a free port with this environment, once it answers `/health`; SIGTERM when the
    block ends (killed if it has not stopped 30 s later, which `output` then says)."""
    port = free_port()
    process = subprocess.Popen(
        [AGENTRUNS, "serve", "--port", str(port)], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    served = ServeProcess(process, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 90  # a cold start on a loaded 2-core machine can take half a minute
        while True:
            try:
                httpx.get(f"{served.url}/health")
                break
            except httpx.ConnectError:
                assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            served.output = process.communicate(timeout=30)[0].decode()
        except subprocess.TimeoutExpired:
            process.kill()
            served.output = process.communicate()[0].decode() + "\n(killed: it did not stop within 30 s of SIGTERM)"
