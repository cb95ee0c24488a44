"""`read`, `write` and `edit`: text files of the run's workspace, reached through its sandbox, never outside it."""

from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed

from agentruns.agent.deps import RunDeps
from agentruns.agent.tools.output import capped
from agentruns.sandbox.errors import SandboxError


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
    try:
        data = await deps.sandbox.read_file(path)
    except (OSError, SandboxError) as exc:
        raise failure(path, exc) from None
    return data.decode(errors="replace")


async def _save(deps: RunDeps, path: str, text: str) -> None:
    try:
        await deps.sandbox.write_file(path, text.encode())
    except (OSError, SandboxError) as exc:
        raise failure(path, exc) from None


async def read(ctx: RunContext[RunDeps], path: str, offset: int = 1, limit: int = 2000) -> str:
    """Read a text file of the workspace, `limit` lines from line `offset` (1-based).

    Args:
        path: The file, relative to the workspace or under /workspace.
        offset: The first line to return.
        limit: How many lines to return at most.
    """
    text = await _text_of(ctx.deps, path)
    first = max(offset, 1) - 1
    return capped("\n".join(text.splitlines()[first : first + max(limit, 0)]))


async def write(ctx: RunContext[RunDeps], path: str, content: str) -> str:
    """Write a text file of the workspace, creating its directories; replaces an existing file.

    Args:
        path: The file, relative to the workspace or under /workspace.
        content: The whole new content.
    """
    await _save(ctx.deps, path, content)
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
    await _save(ctx.deps, path, text.replace(old_string, new_string))
    return f"replaced {occurrences if replace_all else 1} occurrence(s) in {path}"
