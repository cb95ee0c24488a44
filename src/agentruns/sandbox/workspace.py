"""Files of a workspace, reached from the host as a command inside would reach them, and never outside it.

Every function here works from a handle of the workspace directory, one component at a time
(`sandbox/beneath.py`), so that what the run's processes do meanwhile cannot lead it outside. Each is
synchronous and is called in a thread acting as the jail's host user (`sandbox/jail_user.py`): it can do to
the workspace only what the run's own commands could. What it creates belongs to that user.
"""

import errno
import os
import stat
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from agentruns.sandbox.beneath import MOUNT_POINT, open_at, open_directory, open_workspace

__all__ = ["MAX_READ_BYTES", "MOUNT_POINT", "Entry", "Listing", "listing", "open_file", "read", "write"]

MAX_READ_BYTES = 16 * 1024 * 1024
"""The largest file `read` loads whole (`sandbox/lines.py` reads a window of any file)."""
MAX_LISTED_DEPTH = 64
"""How deep a listing descends; deeper directories are listed, their content not (the listing says it was cut)."""
_CHUNK_BYTES = 1024 * 1024
_HANDLE = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def read(workspace: Path, path: str, *, max_bytes: int = MAX_READ_BYTES) -> bytes:
    """The content of a workspace file, if it is at most `max_bytes` long.

    Its length is what reading it gives, not what it claims (sparse, or growing), and no more than
    `max_bytes` and a chunk are ever held.

    Raises:
        PathOutsideWorkspace: The path leads outside the workspace.
        OSError: The file cannot be read (missing, a directory, not a regular file, not readable by the
            sandbox's user); EFBIG if it is longer than `max_bytes`.
    """
    with open_file(workspace, path) as file:
        data = bytearray()
        while chunk := file.read(min(_CHUNK_BYTES, max_bytes + 1 - len(data))):
            data += chunk
            if len(data) > max_bytes:
                raise OSError(errno.EFBIG, f"{path!r}: larger than {_size(max_bytes)}, too large to load whole")
        return bytes(data)


def _size(count: int) -> str:
    """A byte count as people read it: MiB when whole, bytes otherwise."""
    mib = 1024 * 1024
    return f"{count // mib} MiB" if count % mib == 0 else f"{count:,} bytes"


def open_file(workspace: Path, path: str) -> BinaryIO:
    """A workspace file opened for reading, on the rules of `read`; the caller closes it."""
    root = open_workspace(workspace)
    try:
        return open(_regular(open_at(root, path, os.O_RDONLY), path), "rb")
    finally:
        os.close(root)


def write(workspace: Path, path: str, data: bytes) -> None:
    """Create or replace a workspace file, and its missing directories.

    Raises:
        PathOutsideWorkspace: The path leads outside the workspace.
        OSError: The file cannot be written.
    """
    root = open_workspace(workspace)
    try:
        fd = _regular(open_at(root, path, os.O_WRONLY | os.O_CREAT, make_parents=True), path)
    finally:
        os.close(root)
    with open(fd, "wb") as file:
        os.ftruncate(fd, 0)  # only once it is known to be a regular file
        file.write(data)


def _regular(fd: int, path: str) -> int:
    """`fd` if it is a regular file, blocking again; closed and refused if not (a directory, a FIFO, a device)."""
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, f"{path!r}: Is a directory")
        raise OSError(errno.EINVAL, f"{path!r}: Not a regular file")
    os.set_blocking(fd, True)
    return fd


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a workspace listing: its path inside the workspace, kind, size and time of change."""

    path: str
    kind: Literal["file", "directory", "symlink", "other"]
    size: int
    modified: float


@dataclass(frozen=True, slots=True)
class Listing:
    """A workspace's entries in path order; whether the list was cut; how many entries were left out for their
    names, which are not UTF-8 (with what is below them, uncounted)."""

    entries: list[Entry]
    truncated: bool
    skipped_names: int


def listing(workspace: Path, *, limit: int) -> Listing:
    """The workspace's entries in path order, without following symlinks.

    Shallower entries come first when `limit` cuts the list, so the top of a large workspace is always
    shown. A directory the sandbox's user cannot read is listed, not its content, as a command would see it;
    so is one deeper than `MAX_LISTED_DEPTH` (the list is then said to be cut). An entry whose name is not
    UTF-8 (bytes a command may give a name) is left out and counted: no path in text could name it.

    Raises:
        OSError: The workspace itself cannot be read.
    """
    root = open_workspace(workspace)
    try:
        return _listing(root, limit)
    finally:
        os.close(root)


def _listing(root: int, limit: int) -> Listing:
    entries: list[Entry] = []
    cut = False
    skipped = 0
    pending: deque[tuple[str, ...]] = deque([()])
    while pending:
        parts = pending.popleft()
        try:
            directory = _reopened(root, parts)
        except OSError:
            if not parts:
                raise
            continue  # changed since it was listed, or closed to the sandbox's user: listed, not its content
        try:
            with os.scandir(directory) as scan:
                found = sorted(scan, key=lambda entry: entry.name)
            for item in found:
                if len(entries) == limit:
                    return Listing(sorted(entries, key=lambda entry: entry.path), True, skipped)
                if not _is_utf8(item.name):
                    skipped += 1
                    continue
                try:
                    info = item.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                kind = _kind(info.st_mode)
                relative = "/".join((*parts, item.name))
                entries.append(Entry(relative, kind, info.st_size if kind == "file" else 0, info.st_mtime))
                if kind == "directory":
                    if len(parts) + 1 < MAX_LISTED_DEPTH:
                        pending.append((*parts, item.name))
                    else:
                        cut = True
        finally:
            os.close(directory)
    return Listing(sorted(entries, key=lambda entry: entry.path), cut, skipped)


def _is_utf8(name: str) -> bool:
    """Whether a name from the file system was UTF-8 (Python holds other bytes as lone surrogates)."""
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True


def _reopened(root: int, parts: tuple[str, ...]) -> int:
    """A readable fd of the directory at `parts`, reached without following any symlink."""
    held = os.dup(root)
    try:
        for part in parts[:-1]:
            step = os.open(part, _HANDLE, dir_fd=held)
            os.close(held)
            held = step
        return open_directory(held, parts[-1] if parts else "")
    finally:
        os.close(held)


def _kind(mode: int) -> Literal["file", "directory", "symlink", "other"]:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    return "symlink" if stat.S_ISLNK(mode) else "other"
