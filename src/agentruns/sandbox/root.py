"""The workspace root: the directory that holds every run's workspace, where one is, and removing one."""

import asyncio
import contextlib
import errno
import os
import re
import uuid
from pathlib import Path

from agentruns.sandbox import jail_user
from agentruns.sandbox.beneath import open_directory_granting, open_workspace
from agentruns.sandbox.usage import MAX_DEPTH

_RUN_ID = re.compile(r"run_[0-9a-z]{1,60}")
_GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)


def is_workspace_name(name: str) -> bool:
    """Whether a directory name under the root is a run's workspace (named by its run id)."""
    return _RUN_ID.fullmatch(name) is not None


def workspace_path(root: str | Path, run_id: str) -> Path:
    """The host directory of a run's workspace; a relative root is taken from the working directory.

    Raises:
        ValueError: `run_id` is not a run id (it could otherwise name a path outside the root).
    """
    if not is_workspace_name(run_id):
        raise ValueError(f"{run_id!r} is not a run id")
    return Path(root).resolve() / run_id


def prepare_root(root: str | Path) -> Path:
    """Create the root if it is missing (others may pass through it, never list it); its resolved path."""
    path = Path(root).resolve()
    path.mkdir(mode=0o711, parents=True, exist_ok=True)
    return path


def make_workspace(workspace: Path, owner: jail_user.Owner | None) -> None:
    """Create the workspace directory (mode 0700) if it is missing, and give it to `owner` (the jail's host user).

    Only the directory itself is handed over: whatever is in it was made by that user already.
    """
    try:
        workspace.mkdir(mode=0o700)
    except FileExistsError:
        return
    if owner is None:
        return
    try:
        os.chown(workspace, *owner, follow_symlinks=False)
    except BaseException:
        workspace.rmdir()
        raise


async def remove(workspace: Path) -> None:
    """Delete a workspace and all it holds, also what its commands made unwritable; symlinks are never followed.

    What it holds is deleted as the workspace's owner (`jail_user.owner_of`), through directory handles; the
    empty directory itself by the service, whose directory the root is. Call it once the sandbox's commands
    are gone: anything they add meanwhile leaves the workspace in place (ENOTEMPTY), for the next attempt.

    Raises:
        OSError: Something in it could not be deleted even so.
    """
    try:
        owner = jail_user.owner_of(workspace)
    except FileNotFoundError:
        return
    await jail_user.call(owner, empty, workspace)
    with contextlib.suppress(FileNotFoundError):
        await asyncio.to_thread(os.rmdir, workspace)


def empty(workspace: Path) -> None:
    """Delete everything the workspace holds (see `remove`), leaving the directory itself."""
    try:
        root = open_workspace(workspace)
    except OSError as exc:
        if exc.errno in _GONE:
            return  # gone, or not a directory: nothing of a run's to delete
        raise
    try:
        while _empty_down_to(root, MAX_DEPTH):
            pass
    finally:
        os.close(root)


def _empty_down_to(root: int, depth: int) -> bool:
    """Delete what the workspace holds `depth` levels deep; deeper directories are moved to its top instead, for
    the next pass (at most one fd per level is open). Whether any were moved."""
    moved = False
    top, _ = open_directory_granting(root, "", 0o700)
    frames: list[tuple[int, str, list[str]]] = [(top, "", _unlink_all_but_directories(top))]
    try:
        while frames:
            fd, name, subdirectories = frames[-1]
            if subdirectories:
                child = subdirectories.pop()
                if len(frames) >= depth:
                    os.rename(child, f".deep-{uuid.uuid4().hex}", src_dir_fd=fd, dst_dir_fd=top)
                    moved = True
                    continue
                try:
                    opened, _ = open_directory_granting(fd, child, 0o700)  # write and search, to empty it
                except OSError as exc:
                    if exc.errno in _GONE:
                        continue
                    raise
                frames.append((opened, child, _unlink_all_but_directories(opened)))
                continue
            frames.pop()
            if frames:
                os.close(fd)
                os.rmdir(name, dir_fd=frames[-1][0])
    finally:
        for fd, _, _ in frames:
            os.close(fd)
    os.close(top)
    return moved


def _unlink_all_but_directories(directory: int) -> list[str]:
    """Unlink every entry of the directory that is not a directory; the names of those that are."""
    subdirectories: list[str] = []
    with os.scandir(directory) as scan:
        for entry in scan:
            try:
                if entry.is_dir(follow_symlinks=False):
                    subdirectories.append(entry.name)
                else:
                    os.unlink(entry.name, dir_fd=directory)
            except FileNotFoundError:
                continue
    return subdirectories
