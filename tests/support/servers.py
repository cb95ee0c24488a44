"""A real agentruns API server on loopback, run by uvicorn in a background thread."""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.types import ASGIApp

from agentruns.api.app import create_app
from agentruns.api.server import api_server
from agentruns.settings import Settings


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
