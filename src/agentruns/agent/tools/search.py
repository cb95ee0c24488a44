"""`glob` and `grep`: find files and lines in the run's workspace, with commands run in its sandbox.

Both run inside the sandbox, as a command of the agent would, so they see exactly what its commands see
and work the same on every provider. The directory searched must be in the workspace: `..` above it, an
absolute path elsewhere and symlinks leading out are refused.
"""

import re
import shlex
from pathlib import PurePosixPath

from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed

from agentruns.agent.deps import RunDeps
from agentruns.agent.tools.output import capped
from agentruns.sandbox.errors import SandboxError
from agentruns.sandbox.protocol import CommandResult
from agentruns.sandbox.workspace import MOUNT_POINT

MAX_MATCHES = 1000
MAX_LINE_CHARS = 2000
_MATCH = re.compile(r"(.*?):(\d+):")

# Both scripts start in the workspace ($PWD) and take their arguments as "$1", "$2", … A path is resolved
# with every symlink followed, as the sandbox sees it, and must stay inside the workspace. Exit status 3:
# the path is unusable; 4: it is outside the workspace (stderr says which).
_INSIDE = """\
workspace=$(pwd -P)
target=$(realpath -e -- "$1" 2>/dev/null) || { printf '%s does not exist\\n' "$1" >&2; exit 3; }
case $target/ in "$workspace"/*) ;; *) printf '%s is outside /workspace\\n' "$1" >&2; exit 4;; esac
relative=${target#"$workspace"}; relative=${relative#/}
"""
# globstar: `**` matches any depth (never through a symlink); dotglob: hidden files match `*` too.
_GLOB = (
    _INSIDE
    + f"""\
[[ -d $target ]] || {{ printf '%s is not a directory\\n' "$1" >&2; exit 3; }}
cd -- "$target" || exit 3
shopt -s globstar nullglob dotglob
IFS=
found=0
for name in $2; do
  [[ -f $name ]] || continue
  found=$((found + 1))
  ((found <= {MAX_MATCHES})) && printf '%s\\n' "${{relative:+$relative/}}$name"
done
((found > {MAX_MATCHES})) && printf '[%d more files not shown]\\n' $((found - {MAX_MATCHES}))
exit 0
"""
)
# Perl-compatible expressions where grep has them (GNU grep built with PCRE), else extended ones.
_GREP = (
    _INSIDE
    + f"""\
flavour=-P
grep -qP '' /dev/null 2>/dev/null; [[ $? -eq 2 ]] && flavour=-E
options=(-rnIH --color=never "$flavour")
[[ -n $4 ]] && options+=(-i)
[[ -n $3 ]] && options+=("--include=$3")
grep "${{options[@]}}" -e "$2" -- "${{relative:-.}}" | head -n {MAX_MATCHES + 1}
exit "${{PIPESTATUS[0]}}"
"""
)


def _relative(path: str) -> str:
    """`path` relative to the workspace; an absolute path must be under /workspace."""
    pure = PurePosixPath(path or ".")
    if not pure.is_absolute():
        return str(pure)
    mount = PurePosixPath(MOUNT_POINT)
    if pure != mount and mount not in pure.parents:
        raise ToolFailed(f"{path!r} is outside {MOUNT_POINT}")
    return str(pure.relative_to(mount))


async def _run(deps: RunDeps, script: str, *arguments: str) -> CommandResult:
    command = "set -- " + " ".join(shlex.quote(argument) for argument in arguments) + "\n" + script
    try:
        result = await deps.sandbox.run(command)
    except SandboxError as exc:
        raise ToolFailed(f"the sandbox could not run the search: {exc}") from None
    if result.exit_code in (3, 4):
        raise ToolFailed(result.stderr.strip())
    return result


async def glob(ctx: RunContext[RunDeps], pattern: str, path: str = ".") -> str:
    """List the files under `path` whose path matches a glob pattern such as `**/*.py`, one per line.

    Args:
        pattern: The glob pattern, relative to `path`; `**` matches any number of directories.
        path: The directory to search, relative to the workspace or under /workspace.
    """
    if pattern.startswith("/") or ".." in PurePosixPath(pattern).parts:
        raise ToolFailed("the pattern must be relative to `path` and must not contain `..`")
    result = await _run(ctx.deps, _GLOB, _relative(path), pattern)
    listed = result.stdout.strip()
    if result.timed_out:
        listed += f"\n{result.stderr.strip()}"
    return listed or "no files match"


def _file_and_line(line: str) -> tuple[str, int]:
    """How grep's lines are ordered: by file, then line number (grep itself goes in directory order)."""
    found = _MATCH.match(line)
    return (found[1], int(found[2])) if found else (line, 0)


async def grep(
    ctx: RunContext[RunDeps], pattern: str, path: str = ".", include: str | None = None, ignore_case: bool = False
) -> str:
    """Search files for a regular expression; prints `file:line:text` for each matching line.

    Args:
        pattern: A regular expression (Perl-compatible, as `grep -P`).
        path: The directory (or file) to search, relative to the workspace or under /workspace.
        include: Search only files whose name matches this glob, such as `*.py`.
        ignore_case: Match without regard to case.
    """
    result = await _run(ctx.deps, _GREP, _relative(path), pattern, include or "", "-i" if ignore_case else "")
    lines = sorted((line.removeprefix("./") for line in result.stdout.splitlines()), key=_file_and_line)
    shown = [line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + " [line cut]" for line in lines]
    if len(shown) > MAX_MATCHES:
        shown = [*shown[:MAX_MATCHES], f"[stopped after {MAX_MATCHES} matches]"]
    if result.timed_out:
        shown.append(result.stderr.strip())
    elif result.exit_code not in (0, 1) and not shown:  # grep's own error, such as an invalid expression
        raise ToolFailed(result.stderr.strip() or f"grep failed with exit status {result.exit_code}")
    return capped("\n".join(shown)) if shown else "no matches"
