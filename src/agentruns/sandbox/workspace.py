"""Files of a workspace, reached from the host as a command inside would reach them, and never outside it."""

import errno
import os
import stat
from collections import deque
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Literal

from agentruns.sandbox.errors import PathOutsideWorkspace

MOUNT_POINT = "/workspace"
"""Where the workspace is inside every sandbox."""

_MAX_SYMLINKS = 40  # as the kernel: more than this many on one path is a loop


def resolve(workspace: Path, path: str) -> Path:
    """The host path of `path` with every symlink followed as the sandbox would follow it.

    `path` is relative to the workspace or absolute under `/workspace`. A symlink's absolute target is read
    as a path inside the sandbox, so `/workspace/x` leads into the workspace and anything else is refused,
    as is `..` above the workspace. The last part need not exist.

    Raises:
        PathOutsideWorkspace: The path leads outside the workspace.
    """
    if "\0" in path:
        raise PathOutsideWorkspace(f"{path!r} is not a valid path")
    pending = deque(_inside_parts(path, path))
    parts: list[str] = []
    followed = 0
    while pending:
        part = pending.popleft()
        if part == "..":
            if not parts:
                raise PathOutsideWorkspace(f"{path!r} is outside {MOUNT_POINT}")
            parts.pop()
            continue
        candidate = workspace.joinpath(*parts, part)
        try:
            is_link = stat.S_ISLNK(candidate.lstat().st_mode)
        except (FileNotFoundError, NotADirectoryError):
            is_link = False
        if not is_link:
            parts.append(part)
            continue
        followed += 1
        if followed > _MAX_SYMLINKS:
            raise PathOutsideWorkspace(f"{path!r} has too many levels of symbolic links")
        target = os.readlink(candidate)
        if target.startswith("/"):
            parts = []
        pending.extendleft(reversed(_inside_parts(target, path)))
    return workspace.joinpath(*parts)


def _inside_parts(path: str, asked: str) -> list[str]:
    """The parts of `path` below the workspace: its own if relative, those under /workspace if absolute."""
    pure = PurePosixPath(path)
    if pure.is_absolute():
        mount = PurePosixPath(MOUNT_POINT)
        if pure != mount and mount not in pure.parents:
            raise PathOutsideWorkspace(f"{asked!r} is outside {MOUNT_POINT}")
        pure = pure.relative_to(mount)
    # PurePosixPath drops "." parts but keeps "..", which `resolve` applies in order.
    return [part for part in pure.parts if part != "."]


def read(workspace: Path, path: str) -> bytes:
    """The content of a workspace file.

    Raises:
        PathOutsideWorkspace: The path leads outside the workspace.
        OSError: The file cannot be read.
    """
    with open_file(workspace, path) as file:
        return file.read()


def open_file(workspace: Path, path: str) -> BinaryIO:
    """A workspace file opened for reading, on the rules of `read`; the caller closes it.

    Raises:
        PathOutsideWorkspace: The path leads outside the workspace.
        OSError: The file cannot be read.
    """
    return open(_open_regular(resolve(workspace, path), os.O_RDONLY, path), "rb")


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a workspace listing: its path inside the workspace, kind, size and time of change."""

    path: str
    kind: Literal["file", "directory", "symlink", "other"]
    size: int
    modified: float


def listing(workspace: Path, *, limit: int) -> tuple[list[Entry], bool]:
    """The workspace's entries in path order, without following symlinks; and whether `limit` cut the list.

    Shallower entries come first when the list is cut, so the top of a large workspace is always shown.

    Raises:
        OSError: The workspace cannot be read.
    """
    entries: list[Entry] = []
    pending = deque([workspace])
    while pending:
        directory = pending.popleft()
        with os.scandir(directory) as scan:
            found = sorted(scan, key=lambda entry: entry.name)
        for item in found:
            if len(entries) == limit:
                return sorted(entries, key=lambda entry: entry.path), True
            info = item.stat(follow_symlinks=False)
            kind = _kind(info.st_mode)
            relative = Path(item.path).relative_to(workspace).as_posix()
            entries.append(Entry(relative, kind, info.st_size if kind == "file" else 0, info.st_mtime))
            if kind == "directory":
                pending.append(Path(item.path))
    return sorted(entries, key=lambda entry: entry.path), False


def _kind(mode: int) -> Literal["file", "directory", "symlink", "other"]:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    return "symlink" if stat.S_ISLNK(mode) else "other"


def write(workspace: Path, path: str, data: bytes, *, owner: tuple[int, int] | None) -> None:
    """Create or replace a workspace file and its missing directories.

    Args:
        workspace: The workspace on the host.
        path: The file, relative or under /workspace.
        data: The whole new content.
        owner: The host uid and gid to give what is created, so that commands of the sandbox may change it.

    Raises:
        PathOutsideWorkspace: The path leads outside the workspace.
        OSError: The file cannot be written.
    """
    target = resolve(workspace, path)
    if target == workspace:
        raise IsADirectoryError(f"{path!r} is the workspace itself")
    directory = workspace
    for part in target.relative_to(workspace).parts[:-1]:
        directory = directory / part
        if not directory.exists():
            directory.mkdir()
            if owner is not None:
                os.chown(directory, *owner, follow_symlinks=False)
    fd = _open_regular(target, os.O_WRONLY | os.O_CREAT, path)
    with open(fd, "wb") as file:
        os.ftruncate(fd, 0)
        file.write(data)
        if owner is not None:
            os.fchown(file.fileno(), *owner)


def _open_regular(target: Path, flags: int, path: str) -> int:
    """An fd of the regular file `target`; never a symlink, a directory, a FIFO or a device."""
    # O_NOFOLLOW: a symlink put in place of the checked file since `resolve` is not followed. O_NONBLOCK:
    # a FIFO a command left there must not block the service; it is refused once open.
    try:
        fd = os.open(target, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o644)
    except OSError as exc:  # named as the sandbox sees it: the host's paths are none of its business
        raise type(exc)(exc.errno, f"{path!r}: {exc.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, f"{path!r}: Is a directory")
        raise OSError(errno.EINVAL, f"{path!r}: Not a regular file")
    os.set_blocking(fd, True)
    return fd


def give_to(workspace: Path, owner: tuple[int, int]) -> None:
    """Make the workspace and everything in it belong to `owner` (symlinks themselves, not their targets)."""
    os.chown(workspace, *owner, follow_symlinks=False)
    for root, directories, files in os.walk(workspace):
        for name in (*directories, *files):
            os.chown(os.path.join(root, name), *owner, follow_symlinks=False)
