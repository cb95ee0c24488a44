"""`agentruns serve`: start the API on the embedded default or on the configured database."""

from typing import Annotated

import typer
import uvicorn

from agentruns.cli.worker import refuse_without_sandbox
from agentruns.settings import get_settings

HTTP_PROTOCOL = "h11"
"""uvicorn's pure-Python HTTP/1.1, even where httptools is installed: on httptools a replay of 10,000 events
cost 98–102 µs of CPU per event against 81 on h11, and the fan-out to 1,000 streams was no cheaper."""
EVENT_LOOP = "asyncio"
"""The standard loop, even where uvloop is installed: the embedded worker (DBOS, sandboxes) is tested on it."""


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind [default: AGENTRUNS_HOST or 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind [default: AGENTRUNS_PORT or 2728]")] = None,
    worker: Annotated[
        bool | None, typer.Option("--worker/--no-worker", help="Also run a worker [default: AGENTRUNS_WORKER or on]")
    ] = None,
) -> None:
    """Start the API server (migrations are applied on start); by default a worker runs in the same process."""
    from agentruns.api.app import create_app

    settings = get_settings()
    with_worker = settings.worker if worker is None else worker
    if with_worker:
        refuse_without_sandbox(settings)
    uvicorn.run(
        create_app(settings, with_worker=with_worker),
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level,
        proxy_headers=True,
        http=HTTP_PROTOCOL,
        loop=EVENT_LOOP,
    )
