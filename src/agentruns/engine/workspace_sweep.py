"""The workspace sweep: delete the workspaces of runs that ended `AGENTRUNS_WORKSPACE_KEEP_SECONDS` ago.

Every worker sweeps the workspace root it sees (its own disk, or storage shared with other workers), so a
workspace is deleted by a worker that can reach it. A run whose workspace is deleted shows
`runtimeState` `ended` (or keeps `error`). Workspaces of runs this database does not know are left alone.
"""

import asyncio
import logging
import os
from datetime import datetime, timedelta
from pathlib import Path

from agentruns.sandbox.root import is_workspace_name, remove
from agentruns.storage.database import Database
from agentruns.storage.queries import workspaces

log = logging.getLogger("agentruns.workspaces")

BATCH = 500


def sweep_interval(keep_seconds: float) -> float:
    """How often a worker sweeps: often enough that a workspace outlives its keep time by at most half of it."""
    return min(max(keep_seconds / 2, 1.0), 60.0)


def _workspace_names(root: Path) -> list[str]:
    with os.scandir(root) as entries:
        return sorted(e.name for e in entries if is_workspace_name(e.name) and e.is_dir(follow_symlinks=False))


async def sweep(db: Database, root: Path, *, keep_seconds: float, now: datetime) -> list[str]:
    """Delete the workspaces under `root` whose run ended more than `keep_seconds` before `now`.

    Returns:
        The run ids whose workspace was deleted.
    """
    if not root.is_dir():
        return []
    names = await asyncio.to_thread(_workspace_names, root)
    cutoff = now - timedelta(seconds=keep_seconds)
    deleted: list[str] = []
    for first in range(0, len(names), BATCH):
        async with db.read() as session:
            expired = await workspaces.ended_before(session, names[first : first + BATCH], cutoff)
        for run_id in expired:
            # Shown first: a files request in between finds an `ended` run, never a missing workspace.
            async with db.write() as session:
                await workspaces.mark_deleted(session, run_id)
            try:
                await remove(root / run_id)
            except OSError as exc:  # tried again at the next sweep
                log.warning("the workspace of run %s could not be deleted: %s", run_id, exc)
                continue
            deleted.append(run_id)
    return deleted
