"""`bash`: run a shell command in the run's sandbox and return its exit code and output."""

from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed

from agentruns.agent.deps import RunDeps
from agentruns.sandbox.errors import SandboxError

MIN_TIMEOUT_SECONDS = 1.0


async def bash(ctx: RunContext[RunDeps], command: str, timeout_seconds: float | None = None) -> dict[str, object]:
    """Run a bash command in the workspace (/workspace); returns `exit_code`, `stdout` and `stderr`.

    The command, and every process it starts, ends when it exits or at its time limit. Files outside
    /workspace and /tmp are read-only, /tmp is emptied after each command, and each output is cut after
    30,000 characters with a note saying so.

    Args:
        command: The command line, run by `bash -c` with /workspace as the working directory.
        timeout_seconds: Kill the command after this many seconds (at most the deployment's limit, 120 s
            unless configured otherwise).
    """
    limit = ctx.deps.settings.sandbox_command_timeout_seconds
    seconds = limit if timeout_seconds is None else min(max(timeout_seconds, MIN_TIMEOUT_SECONDS), limit)
    try:
        result = await ctx.deps.sandbox.run(command, timeout_seconds=seconds)
    except SandboxError as exc:
        raise ToolFailed(f"the command could not be started: {exc}") from None
    ctx.deps.printed.append(f"$ {command}\n{result.stdout}{result.stderr}")
    return {"exit_code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr}
