"""How much disk a workspace takes: bytes, entries, and whether it passed the limits that bound the measure.

The measure walks the workspace from directory handles (`sandbox/beneath.py`) as the jail's host user, so a
run's renames and symlinks cannot lead it outside. Its cost grows with the number of entries, which a run
controls; so the number of entries and the depth of directories are limits of their own, and the measure stops
as soon as it passes one: a measure never takes longer than `max_entries` entries take.
"""

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from agentruns.sandbox.beneath import open_directory, open_directory_granting, open_workspace

MAX_DEPTH = 256
"""How deep a workspace's directories may nest."""
_GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)  # an entry that changed between its listing and its opening


@dataclass(frozen=True, slots=True)
class Usage:
    """A workspace's measure: bytes on disk (allocated blocks, each inode once, symlinks not followed), the
    entries counted, whether a limit stopped the count (`over`: what it says, else None), and whether every
    entry was counted (`whole`: False when `stop_above` stopped it, so `bytes` is only a floor)."""

    bytes: int
    entries: int
    over: str | None = None
    whole: bool = True


def measure(workspace: Path, *, max_entries: int, stop_above: int | None = None) -> Usage:
    """Measure the workspace, stopping at `max_entries` entries or `MAX_DEPTH` levels, or as soon as it is known to
    take more than `stop_above` bytes (the bytes are then those counted so far); a missing one takes nothing.

    Call it through `jail_user.call_reading_directories`, so that a directory the run closed to its own user is
    counted too: hiding files from oneself does not hide them from the limit. Where the thread cannot read it
    even so (a service that is not root), the directory is opened up (u+rx) while it is measured, and its mode
    given back after.
    """
    try:
        root = open_workspace(workspace)
    except FileNotFoundError:
        return Usage(0, 0)
    try:
        return _measure(root, max_entries, stop_above)
    finally:
        os.close(root)


def _measure(root: int, max_entries: int, stop_above: int | None) -> Usage:
    total = entries = 0
    seen: set[tuple[int, int]] = set()
    # One frame per level: the directory's fd, its subdirectories still to visit and the mode to give back to
    # it (None: unchanged), so at most MAX_DEPTH fds.
    frames: list[tuple[int, list[str], int | None]] = []

    def enter(opened: tuple[int, int | None]) -> None:
        nonlocal total, entries
        fd, mode = opened
        subdirectories: list[str] = []
        frames.append((fd, subdirectories, mode))
        with os.scandir(fd) as scan:
            for entry in scan:
                entries += 1
                if entries > max_entries:
                    return
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if (info.st_dev, info.st_ino) not in seen:
                    seen.add((info.st_dev, info.st_ino))
                    total += info.st_blocks * 512
                if stat.S_ISDIR(info.st_mode):
                    subdirectories.append(entry.name)

    try:
        enter(_opened(root, ""))
        while frames and entries <= max_entries and (stop_above is None or total <= stop_above):
            fd, subdirectories, _ = frames[-1]
            if not subdirectories:
                _close(*frames.pop())
                continue
            name = subdirectories.pop()
            if len(frames) >= MAX_DEPTH:
                return Usage(total, entries, f"its directories nest more than {MAX_DEPTH} levels deep", whole=False)
            try:
                enter(_opened(fd, name))
            except OSError as exc:
                if exc.errno in _GONE:
                    continue
                raise
    finally:
        for frame in frames:
            _close(*frame)
    if entries > max_entries:
        return Usage(total, entries, f"it holds more than {max_entries} files and directories", whole=False)
    return Usage(total, entries, whole=stop_above is None or total <= stop_above)


def _opened(parent: int, name: str) -> tuple[int, int | None]:
    """The directory, readable, and the mode to give back to it once measured (None: it was readable as it was)."""
    try:
        return open_directory(parent, name), None
    except PermissionError:
        return open_directory_granting(parent, name, 0o500)


def _close(fd: int, _subdirectories: list[str], mode: int | None) -> None:
    try:
        if mode is not None:
            os.fchmod(fd, mode)
    finally:
        os.close(fd)


def disk_bytes(workspace: Path, *, max_entries: int = 10**9) -> int:
    """The bytes the workspace takes on disk (see `measure`)."""
    return measure(workspace, max_entries=max_entries).bytes
