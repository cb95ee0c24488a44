"""Paths of a workspace opened one component at a time from directory handles, so that they stay inside it.

Every component is opened relative to the handle of the directory before it, with `O_NOFOLLOW`, and `..`
goes back to a handle already held, never to the directory's parent of the moment. Whatever a run's processes
rename or swap meanwhile (a directory for a symlink to the host's `/`, in a loop), a lookup lands only on
what is in the workspace at that instant: the jail sees nothing else, so it can move nothing else in.

Symlinks are followed as a command in the jail would follow them: a relative target from the link's
directory, an absolute one under `/workspace` from the workspace; any other target leads outside and is
refused, as is `..` above the workspace.

A lookup is bounded as the kernel bounds one: at most `MAX_SYMLINKS` symlinks, `MAX_COMPONENTS` components
walked (those of the symlinks' targets included) and `MAX_DEPTH` directories deep, since it holds a handle of
each directory it is in (for `..`). Past any of them it is refused, so that no path a run makes can cost the
service more than `MAX_DEPTH` file descriptors or `MAX_COMPONENTS` opens.
"""

import contextlib
import errno
import os
import stat
from collections import deque
from pathlib import Path, PurePosixPath

from agentruns.sandbox.errors import PathOutsideWorkspace

MOUNT_POINT = "/workspace"
"""Where the workspace is inside every sandbox."""
MAX_SYMLINKS = 40
"""Symlinks one lookup follows at most, as the kernel's (more is a loop: ELOOP)."""
MAX_COMPONENTS = 4096
"""Components one lookup walks at most, its symlinks' targets included (a path of PATH_MAX bytes has fewer)."""
MAX_DEPTH = 128
"""How many directories deep a lookup may go below the workspace: it holds a file descriptor for each."""

_HANDLE = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READABLE = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_workspace(workspace: Path) -> int:
    """A handle (`O_PATH`) of the workspace directory, the root of every lookup; the caller closes it.

    Only its last component may be the run's: the directories above it are the service's.
    """
    return os.open(workspace, _HANDLE)


def inside_parts(path: str, asked: str, *, climbing: bool = False) -> list[str]:
    """The parts of `path` below the workspace: its own if relative, those under /workspace if absolute.

    Unless `climbing` (a symlink's target, which may climb from where the link is), a path whose own `..`
    parts climb above the workspace is refused before any lookup, whatever exists on the way.

    Raises:
        PathOutsideWorkspace: `path` is absolute and not under /workspace, or not a valid path.
    """
    if "\0" in path:
        raise PathOutsideWorkspace(f"{asked!r} is not a valid path")
    pure = PurePosixPath(path)
    if pure.is_absolute():
        mount = PurePosixPath(MOUNT_POINT)
        if pure != mount and mount not in pure.parents:
            raise PathOutsideWorkspace(f"{asked!r} is outside {MOUNT_POINT}")
        pure = pure.relative_to(mount)
    # PurePosixPath drops "." parts but keeps "..", which the lookup applies in order.
    parts = [part for part in pure.parts if part != "."]
    if climbing:
        return parts
    depth = 0
    for part in parts:
        depth += -1 if part == ".." else 1
        if depth < 0:
            raise PathOutsideWorkspace(f"{asked!r} is outside {MOUNT_POINT}")
    return parts


def open_at(root: int, path: str, flags: int, *, mode: int = 0o644, make_parents: bool = False) -> int:
    """An fd of the workspace entry `path`, opened with `flags` and never through a symlink to outside.

    `O_NOFOLLOW`, `O_NONBLOCK` (a FIFO left by a command must not block the service) and `O_CLOEXEC` are
    added to `flags`; the caller checks what it opened. The last part need not exist if `flags` has
    `O_CREAT`; with `make_parents`, missing directories on the way are created (mode 0755).

    Args:
        root: A handle of the workspace (`open_workspace`).
        path: Relative to the workspace, or absolute under /workspace.
        flags: `os.open` flags for the last part.
        mode: The mode of a file `O_CREAT` creates.
        make_parents: Create missing directories on the way.

    Raises:
        PathOutsideWorkspace: The path, or a symlink on it, leads outside the workspace.
        IsADirectoryError: The path names the workspace itself, or ends in `..`.
        OSError: As `open` raises it for the entry (named by `path`, never by a host path); ENAMETOOLONG past
            `MAX_COMPONENTS` or `MAX_DEPTH`.
    """
    pending = deque(inside_parts(path, path))
    held = [os.dup(root)]  # the directories walked into; `..` returns to the one before
    followed = walked = 0
    try:
        while pending:
            part = pending.popleft()
            walked += 1
            if walked > MAX_COMPONENTS:
                raise _too_long(path)
            if part == "..":
                if len(held) == 1:
                    raise PathOutsideWorkspace(f"{path!r} is outside {MOUNT_POINT}")
                os.close(held.pop())
                continue
            here = held[-1]
            if pending and len(held) > MAX_DEPTH:  # the root's handle and MAX_DEPTH directories' already
                raise _too_long(path)
            try:
                if pending:
                    held.append(_directory(here, part, make=make_parents))
                    continue
                return os.open(part, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode, dir_fd=here)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise _named(exc, path) from None
                target = _link(here, part)
                if target is None:  # a file where a directory was needed, or no longer a symlink: as it is
                    raise _named(exc, path) from None
            followed += 1
            if followed > MAX_SYMLINKS:
                raise PathOutsideWorkspace(f"{path!r} has too many levels of symbolic links")
            if target.startswith("/"):
                while len(held) > 1:
                    os.close(held.pop())
            pending.extendleft(reversed(inside_parts(target, path, climbing=not target.startswith("/"))))
        raise IsADirectoryError(errno.EISDIR, f"{path!r}: Is a directory")
    finally:
        for fd in held:
            os.close(fd)


def _too_long(path: str) -> OSError:
    """The refusal of a lookup past `MAX_COMPONENTS` or `MAX_DEPTH`, as the kernel's ENAMETOOLONG."""
    return OSError(
        errno.ENAMETOOLONG,
        f"{path!r}: too long to look up (more than {MAX_COMPONENTS} components, its symlinks' included, "
        f"or more than {MAX_DEPTH} directories deep)",
    )


def _directory(here: int, part: str, *, make: bool) -> int:
    """A handle of the directory `part` in `here`, made first if `make` and missing; never through a symlink."""
    try:
        return os.open(part, _HANDLE, dir_fd=here)
    except FileNotFoundError:
        if not make:
            raise
    with contextlib.suppress(FileExistsError):  # made meanwhile: whatever it is now, it is opened as any other
        os.mkdir(part, 0o755, dir_fd=here)
    return os.open(part, _HANDLE, dir_fd=here)


def _link(here: int, part: str) -> str | None:
    """The target of `part` in `here` if it is a symlink now, else None."""
    try:
        return os.readlink(part, dir_fd=here)
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.ENOENT):
            return None
        raise


def _named(exc: OSError, path: str) -> OSError:
    """The error as the sandbox sees it: named by its path in the workspace, never by a host path."""
    return type(exc)(exc.errno, f"{path!r}: {exc.strerror}")


def open_directory(parent: int, name: str) -> int:
    """A readable fd of the directory `name` in `parent` (never through a symlink), or of `parent` itself if
    `name` is "".

    Raises:
        OSError: `name` is not a directory now (ENOTDIR, ELOOP), is gone, or cannot be opened.
    """
    if name:
        return os.open(name, _READABLE, dir_fd=parent)
    return os.open(f"/proc/self/fd/{parent}", _READABLE & ~os.O_NOFOLLOW)


def open_directory_granting(parent: int, name: str, bits: int) -> tuple[int, int]:
    """`open_directory`, after giving the directory's owner the mode `bits` (0o500, 0o700) it lacks; and the mode
    it had before, to give back.

    The sandbox's user owns every directory of its workspace, so the service, acting as that user, may open up
    one the run closed to itself (`chmod 000`) to measure or delete what it holds.
    """
    handle = os.open(name, _HANDLE, dir_fd=parent) if name else os.dup(parent)
    try:
        # Through /proc/self/fd: the very directory the handle holds, whatever its name leads to by now.
        held = f"/proc/self/fd/{handle}"
        before = stat.S_IMODE(os.fstat(handle).st_mode)
        if before & bits != bits:
            os.chmod(held, before | bits)
        return os.open(held, _READABLE & ~os.O_NOFOLLOW), before
    finally:
        os.close(handle)
