"""A window of a workspace file's lines, streamed from its start: no file costs the service more than the window.

A file's size says nothing of what reading it costs: a sparse file of 4 GiB takes no disk, a file of short
lines splits into millions of strings. So the lines are read in chunks of `CHUNK_BYTES`, counted (`\\n` ends a
line, as for `sed` and `wc -l`) and dropped until the first wanted one; then at most `max_bytes` are kept. The
count looks at most `MAX_SCAN_BYTES` into the file, which bounds the time a window takes too.
"""

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from agentruns.sandbox import jail_user
from agentruns.sandbox import workspace as files
from agentruns.sandbox.availability import LOCAL_PROVIDERS
from agentruns.sandbox.protocol import Sandbox

CHUNK_BYTES = 64 * 1024
MAX_SCAN_BYTES = 256 * 1024 * 1024
"""How far into a file a window's first line may start."""


@dataclass(frozen=True, slots=True)
class Window:
    """Some lines of a file, from a given line on.

    Attributes:
        lines: The lines, without their `\\n`; the last one may be cut (`last_cut`).
        last_cut: The last line goes on beyond what `max_bytes` let through.
        more: The file goes on after these lines (or after the cut one).
        total_lines: How many lines the file has, when the window starts beyond its end; else None.
        out_of_reach: The first line is further than `MAX_SCAN_BYTES` into the file: nothing was read.
    """

    lines: list[bytes]
    last_cut: bool = False
    more: bool = False
    total_lines: int | None = None
    out_of_reach: bool = False


async def read_window(sandbox: Sandbox, path: str, *, first: int, count: int, max_bytes: int) -> Window:
    """Lines `first` (0-based) to `first + count` of a file of the sandbox's workspace, at most `max_bytes` of them
    (the first one cut to `max_bytes` if it alone is longer).

    A local provider's file is streamed from the host, as the workspace's host user; another provider's is read
    with its `read_file`, which bounds the file as that provider does.

    Raises:
        PathOutsideWorkspace: The path leads outside the workspace.
        OSError: The file cannot be read.
    """
    if sandbox.provider in LOCAL_PROVIDERS:
        owner = jail_user.owner_of(sandbox.workspace)
        return await jail_user.call(
            owner, window, sandbox.workspace, path, first=first, count=count, max_bytes=max_bytes
        )
    return scan(io.BytesIO(await sandbox.read_file(path)), first=first, count=count, max_bytes=max_bytes)


def window(workspace: Path, path: str, *, first: int, count: int, max_bytes: int) -> Window:
    """`read_window` of a workspace directory, in the calling thread (see `sandbox/workspace.py`)."""
    with files.open_file(workspace, path) as file:
        return scan(file, first=first, count=count, max_bytes=max_bytes)


def scan(file: BinaryIO, *, first: int, count: int, max_bytes: int) -> Window:
    """The window of an open file, read from where it is; never more than `max_bytes` and a chunk in memory."""
    rest = _skip(file, first)
    if rest is None:
        return Window([], out_of_reach=True)
    if isinstance(rest, int):
        return Window([], total_lines=rest)
    return _collect(file, bytearray(rest), first=first, count=count, max_bytes=max_bytes)


def _skip(file: BinaryIO, lines: int) -> bytes | int | None:
    """What follows the first `lines` lines of the file; how many lines it has if it ends before; None if
    they go on beyond `MAX_SCAN_BYTES`."""
    if lines <= 0:
        return b""
    seen = scanned = 0
    ended_line = True  # whether the last byte read ended a line
    while True:
        chunk = file.read(CHUNK_BYTES)
        if not chunk:
            return seen if ended_line else seen + 1
        scanned += len(chunk)
        newlines = chunk.count(b"\n")
        if seen + newlines >= lines:
            end = -1
            for _ in range(lines - seen):
                end = chunk.index(b"\n", end + 1)
            return chunk[end + 1 :]
        seen += newlines
        ended_line = chunk.endswith(b"\n")
        if scanned >= MAX_SCAN_BYTES:
            return None


def _collect(file: BinaryIO, buffer: bytearray, *, first: int, count: int, max_bytes: int) -> Window:
    """Up to `count` lines from `buffer` and the rest of the file, `max_bytes` of them at most."""
    lines: list[bytes] = []
    kept = 0
    while len(lines) < count:
        newline = buffer.find(b"\n")
        line = buffer if newline < 0 else buffer[:newline]
        if kept + len(line) > max_bytes:  # too long to keep whole: cut it if it is the first, else stop before it
            if lines:
                return Window(lines, more=True)
            return Window([bytes(line[:max_bytes])], last_cut=True, more=True)
        if newline >= 0:
            lines.append(bytes(line))
            kept += len(line)
            del buffer[: newline + 1]
            continue
        chunk = file.read(CHUNK_BYTES)
        if not chunk:
            if buffer:
                lines.append(bytes(buffer))
            if not lines:
                return Window([], total_lines=first)
            return Window(lines)
        buffer += chunk
    return Window(lines, more=bool(buffer) or bool(file.read(1)))
