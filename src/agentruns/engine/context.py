"""What the workflows of a worker process share: its settings, its database and its running runs.

DBOS workflows are module-level functions, so the worker installs this once when it starts.
"""

import asyncio
from dataclasses import dataclass, field

from agentruns.engine.client import EngineClient
from agentruns.settings import Settings
from agentruns.storage.database import Database


@dataclass
class WorkerContext:
    """The worker's shared state."""

    settings: Settings
    db: Database
    executor_id: str
    engine: EngineClient
    """Enqueues the workflows the worker's runs set off (a parent's continuation, a child run) and cancels them."""
    running: dict[str, asyncio.Task[object]] = field(default_factory=dict[str, "asyncio.Task[object]"])
    """The task executing each run in this process, so a cancel can stop it at once."""
    cancelled: set[str] = field(default_factory=set[str])
    """Runs whose task this worker cancelled because the run was cancelled (not because the worker stops)."""


_installed: list[WorkerContext] = []


def install(context: WorkerContext) -> None:
    """Make `context` the worker context of this process."""
    _installed[:] = [context]


def current() -> WorkerContext:
    """The worker context of this process."""
    if not _installed:
        raise RuntimeError("no worker runs in this process: start one with `agentruns worker` or `serve`")
    return _installed[0]
