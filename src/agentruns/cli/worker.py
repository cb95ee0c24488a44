"""`agentruns worker`: run a worker alone, beside API processes on the same PostgreSQL (or SQLite file)."""

import asyncio
import logging
import signal
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from agentruns.cli.secrets import secret_box_or_exit
from agentruns.settings import Settings, get_settings

if TYPE_CHECKING:
    from agentruns.storage.secret_box import SecretBox

# The engine, storage and sandbox modules are imported where they are used: every `agentruns` command
# imports this module, and the client commands (`agentruns runs …`) should start at once.


async def _run_until_signalled(box: "SecretBox") -> None:
    from agentruns.collector import tuned_collector
    from agentruns.engine.worker import Worker
    from agentruns.storage import migrate

    settings = get_settings()
    await asyncio.to_thread(lambda: migrate.upgrade(settings.database_url, secrets=box))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    worker = Worker(settings, secrets=box)
    await worker.start()
    print(
        f"agentruns worker {worker.executor_id} is running (sandbox limits by {worker.sandbox_limits}; "
        f"{worker.syscall_filter}); "
        "Ctrl-C stops it",
        flush=True,
    )
    with tuned_collector():
        await stop.wait()
    await worker.stop()


def worker() -> None:
    """Run a worker: it executes queued runs until SIGTERM or Ctrl-C."""
    logging.basicConfig(
        level=get_settings().log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    refuse_without_sandbox(get_settings())
    box = secret_box_or_exit(get_settings())
    asyncio.run(_run_until_signalled(box))


def refuse_without_sandbox(settings: Settings) -> None:
    """Exit with status 1 and the reason when this machine cannot run a worker's tools in a sandbox."""
    from agentruns.engine.sandboxes import check_worker
    from agentruns.sandbox.errors import SandboxUnavailable

    try:
        check_worker(settings)
    except SandboxUnavailable as exc:
        Console(stderr=True).print(f"[red]error:[/red] the worker cannot start: {escape(str(exc))}")
        raise typer.Exit(1) from None
