"""`agentruns serve`: start the API on the embedded default or on the configured database."""

import contextlib
from typing import Annotated

import typer

from agentruns.cli.secrets import secret_box_or_exit
from agentruns.cli.worker import refuse_without_sandbox
from agentruns.settings import get_settings

STARTUP_FAILURE = 3
"""The exit status when the server could not start (uvicorn's own)."""


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind [default: AGENTRUNS_HOST or 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind [default: AGENTRUNS_PORT or 2728]")] = None,
    worker: Annotated[
        bool | None, typer.Option("--worker/--no-worker", help="Also run a worker [default: AGENTRUNS_WORKER or on]")
    ] = None,
) -> None:
    """Start the API server (migrations are applied on start); by default a worker runs in the same process."""
    settings = get_settings()
    with_worker = settings.worker if worker is None else worker
    if with_worker:
        refuse_without_sandbox(settings)
    secret_box_or_exit(settings)  # exit status 2 naming the setting, before anything starts
    from agentruns.api.app import create_app
    from agentruns.api.server import api_server

    server = api_server(
        create_app(settings, with_worker=with_worker),
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)
