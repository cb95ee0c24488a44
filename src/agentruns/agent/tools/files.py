"""`read`, `write` and `edit`: text files of the run's workspace, reached through its sandbox, never outside it.

None of them costs the service more memory than a bound, whatever the file: `read` streams a window of lines
(`sandbox/lines.py`) as big as its output may be; `edit` loads files of at most `MAX_EDIT_BYTES` and refuses,
before making it, a result larger than that, than the run's largest file or than the workspace's room; `write`
refuses content larger than the run's largest file (`AGENTRUNS_SANDBOX_MAX_FILE_MIB`).
"""

import errno

from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed

from agentruns.agent.deps import RunDeps
from agentruns.agent.tools.output import MAX_OUTPUT_CHARS
from agentruns.agent.tools.read_notes import shown
from agentruns.sandbox.disk_watch import DiskLimits
from agentruns.sandbox.errors import SandboxError
from agentruns.sandbox.lines import read_window
from agentruns.sandbox.room import check_room
from agentruns.sandbox.workspace import MAX_READ_BYTES

MAX_EDIT_BYTES = MAX_READ_BYTES
"""The largest file `edit` loads, and the largest it makes."""
READ_WINDOW_BYTES = 4 * MAX_OUTPUT_CHARS
"""What `read` loads at most: enough for a whole output of characters of up to 4 bytes."""
_MIB = 1024 * 1024


def failure(path: str, exc: OSError | SandboxError) -> ToolFailed:
    """What the model is told when a path of the workspace cannot be used (never a host path)."""
    if isinstance(exc, SandboxError):  # a path outside /workspace among them; the message names the path
        return ToolFailed(str(exc))
    if isinstance(exc, FileNotFoundError):
        return ToolFailed(f"{path!r} does not exist")
    if isinstance(exc, IsADirectoryError):
        return ToolFailed(f"{path!r} is a directory, not a file")
    return ToolFailed(f"{path!r} cannot be used: {exc.strerror or exc}")


async def _text_of(deps: RunDeps, path: str) -> str:
    """The whole text of a file `edit` may load."""
    try:
        data = await deps.sandbox.read_file(path)
    except OSError as exc:
        if exc.errno == errno.EFBIG:
            raise _too_big_to_edit(path) from None
        raise failure(path, exc) from None
    except SandboxError as exc:
        raise failure(path, exc) from None
    if len(data) > MAX_EDIT_BYTES:
        raise _too_big_to_edit(path)
    return data.decode(errors="replace")


def _too_big_to_edit(path: str) -> ToolFailed:
    return ToolFailed(
        f"{path!r} is larger than the {MAX_EDIT_BYTES // _MIB} MiB edit loads: change it with bash (sed, python)"
    )


async def _save(deps: RunDeps, path: str, data: bytes) -> None:
    try:
        await deps.sandbox.write_file(path, data)
    except (OSError, SandboxError) as exc:
        raise failure(path, exc) from None


async def read(ctx: RunContext[RunDeps], path: str, offset: int = 1, limit: int = 2000) -> str:
    """Read a text file of the workspace, `limit` lines from line `offset` (1-based).

    Args:
        path: The file, relative to the workspace or under /workspace.
        offset: The first line to return.
        limit: How many lines to return at most.
    """
    first = max(offset, 1) - 1
    try:
        window = await read_window(
            ctx.deps.sandbox, path, first=first, count=max(limit, 0), max_bytes=READ_WINDOW_BYTES
        )
    except (OSError, SandboxError) as exc:
        raise failure(path, exc) from None
    return shown(path, first, max(limit, 0), window)


async def write(ctx: RunContext[RunDeps], path: str, content: str) -> str:
    """Write a text file of the workspace, creating its directories; replaces an existing file.

    Args:
        path: The file, relative to the workspace or under /workspace.
        content: The whole new content.
    """
    largest = ctx.deps.settings.sandbox_max_file_mib * _MIB
    if len(content) > largest or len(data := content.encode()) > largest:
        raise ToolFailed(
            f"the content is larger than the {largest // _MIB} MiB a file of the run may have "
            "(AGENTRUNS_SANDBOX_MAX_FILE_MIB); nothing was written"
        )
    await _save(ctx.deps, path, data)
    return f"wrote {len(content)} characters to {path}"


async def edit(ctx: RunContext[RunDeps], path: str, old_string: str, new_string: str, replace_all: bool = False) -> str:
    """Replace an exact string in a file of the workspace.

    Args:
        path: The file, relative to the workspace or under /workspace.
        old_string: The exact text to replace; it must occur once unless `replace_all` is true.
        new_string: The text to put in its place.
        replace_all: Replace every occurrence instead of exactly one.
    """
    text = await _text_of(ctx.deps, path)
    occurrences = text.count(old_string) if old_string else 0
    if occurrences == 0:
        raise ToolFailed(f"old_string was not found in {path!r}")
    if occurrences > 1 and not replace_all:
        raise ToolFailed(
            f"old_string occurs {occurrences} times in {path!r}; give more context to make it unique, "
            "or set replace_all"
        )
    largest = min(ctx.deps.settings.sandbox_max_file_mib * _MIB, MAX_EDIT_BYTES)
    # Computed, not built: a short string replaced by a long one everywhere can make a file thousands of times larger.
    size = len(text.encode()) + occurrences * (len(new_string.encode()) - len(old_string.encode()))
    if size > largest:
        raise ToolFailed(
            f"the edit would make {path!r} {size:,} bytes, more than the {largest // _MIB} MiB edit may write "
            "(the run's largest file, AGENTRUNS_SANDBOX_MAX_FILE_MIB, or edit's own bound); nothing was changed"
        )
    settings = ctx.deps.settings
    try:
        await check_room(
            ctx.deps.sandbox,
            DiskLimits(max_mib=settings.sandbox_max_workspace_mib, max_entries=settings.sandbox_max_workspace_files),
            size,
        )
    except OSError as exc:
        raise ToolFailed(
            f"the edit would make {path!r} {size:,} bytes, more than the workspace has room for "
            f"({exc.strerror or exc}); nothing was changed"
        ) from None
    await _save(ctx.deps, path, text.replace(old_string, new_string).encode())
    return f"replaced {occurrences if replace_all else 1} occurrence(s) in {path}"
