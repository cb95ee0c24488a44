"""The files of a run's workspace: list them and open one, never anything outside the workspace.

The API process reads the workspace where the worker left it, under its own `AGENTRUNS_WORKSPACE_ROOT`:
it must be on the worker's host or on storage shared with the workers. When it is not, the answer says so.
"""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from agentruns.errors import Conflict, Forbidden, InvalidInput, NotFound, NotServedYet, Unreachable
from agentruns.sandbox import jail_user
from agentruns.sandbox import workspace as files
from agentruns.sandbox.availability import LOCAL_PROVIDERS
from agentruns.sandbox.errors import PathOutsideWorkspace
from agentruns.sandbox.root import workspace_path
from agentruns.schemas.files import WorkspaceEntry, WorkspaceListing
from agentruns.schemas.runs import RunStatus
from agentruns.services.runs import run_not_found
from agentruns.settings import Settings
from agentruns.storage.database import Database
from agentruns.storage.models import Run
from agentruns.storage.queries import runs

MAX_ENTRIES = 10_000


def _unreachable(run_id: str, root: Path, reason: str) -> Unreachable:
    return Unreachable(
        f"the workspace of run {run_id!r} is not reachable from this API process ({reason}): workspaces are on "
        f"the disk of the worker that runs them, and this process reads them under {root} "
        "(AGENTRUNS_WORKSPACE_ROOT). Serve the files endpoints from a process on the worker's host, or put the "
        "workspace root on storage the API processes and workers share, run as the workers' user"
    )


async def _workspace_of(db: Database, settings: Settings, org_id: str, run_id: str) -> tuple[Run, Path]:
    """The run and its workspace directory, or the error that says why there is none to read here."""
    async with db.read() as session:
        run = await runs.get(session, org_id, run_id)
    if run is None:
        raise run_not_found(run_id)
    state = run.runtime_state
    if run.provider is None or state is None:
        if RunStatus(run.status).is_terminal:
            raise NotFound(f"run {run_id!r} ended before its sandbox started: it has no workspace")
        raise Conflict(f"run {run_id!r} has no workspace yet: its sandbox starts when a worker starts the run")
    if run.provider not in LOCAL_PROVIDERS:
        raise NotServedYet(f"the files of run {run_id!r} are at its sandbox provider {run.provider!r}")
    if state == "ended":
        raise NotFound(
            f"the workspace of run {run_id!r} was deleted: a run's workspace is kept for "
            f"AGENTRUNS_WORKSPACE_KEEP_SECONDS ({settings.workspace_keep_seconds:g} s) after it ends"
        )
    workspace = workspace_path(settings.workspace_root, run.id)
    try:
        found = workspace.is_dir()
    except OSError as exc:
        raise _unreachable(run_id, workspace.parent, exc.strerror or str(exc)) from None
    if found:
        return run, workspace
    if state == "error":
        raise NotFound(f"run {run_id!r} has no workspace here: its sandbox failed, and its workspace was deleted")
    raise _unreachable(run_id, workspace.parent, "it is not on this host")


async def list_files(db: Database, settings: Settings, org_id: str, run_id: str) -> WorkspaceListing:
    """The entries of the run's workspace (at most `MAX_ENTRIES`, the shallowest first)."""
    run, workspace = await _workspace_of(db, settings, org_id, run_id)
    try:
        owner = jail_user.owner_of(workspace)
        listed = await jail_user.call(owner, files.listing, workspace, limit=MAX_ENTRIES)
    except FileNotFoundError:
        raise NotFound(f"the workspace of run {run_id!r} was deleted") from None
    except PermissionError:
        raise Conflict(
            f"the workspace of run {run_id!r} cannot be listed: its run took its own permission to read it away"
        ) from None
    except OSError as exc:
        raise _unreachable(run_id, workspace.parent, exc.strerror or str(exc)) from None
    expires_at = None
    if run.completed_at is not None:
        expires_at = run.completed_at + timedelta(seconds=settings.workspace_keep_seconds)
    return WorkspaceListing(
        run_id=run.id,
        runtime_state=run.runtime_state,  # pyright: ignore[reportArgumentType]
        expires_at=expires_at,
        entries=[
            WorkspaceEntry(path=entry.path, type=entry.kind, size=entry.size, modified_at=_utc(entry.modified))
            for entry in listed.entries
        ],
        truncated=listed.truncated,
        skipped_names=listed.skipped_names,
    )


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


async def open_file(db: Database, settings: Settings, org_id: str, run_id: str, path: str) -> tuple[BinaryIO, int, str]:
    """A file of the run's workspace opened for reading, its size and its name; the caller closes it.

    `path` is relative to the workspace, or absolute under `/workspace`. Symlinks are followed as a
    command in the sandbox would follow them, and refused if they lead outside.
    """
    if not path.strip("/"):
        raise InvalidInput(f"name a file of the workspace; GET /agent/v1/run/{run_id}/files lists them")
    _run, workspace = await _workspace_of(db, settings, org_id, run_id)
    try:
        owner = jail_user.owner_of(workspace)
        file = await jail_user.call(owner, files.open_file, workspace, path)
    except PathOutsideWorkspace as exc:
        raise InvalidInput(f"{exc}: only files of the run's workspace can be downloaded") from None
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f"the workspace of run {run_id!r} has no file {path!r}") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path!r} is a directory; GET /agent/v1/run/{run_id}/files lists the workspace") from None
    except PermissionError:
        # As the run's own commands would be: the file API reads as the sandbox's user, with no more privilege.
        raise Forbidden(f"{path!r} is not readable by the run's sandbox user (its mode forbids it)") from None
    except OSError as exc:  # not a regular file (a FIFO, a device), or a loop of symlinks
        raise InvalidInput(f"cannot download {exc.strerror or exc}") from None  # the message names the path
    return file, os.fstat(file.fileno()).st_size, PurePosixPath(path).name
