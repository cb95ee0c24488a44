"""The development sandbox: plain processes in the workspace directory, with rlimits and time limits only.

It isolates nothing: commands see every file the service's user can, reach the network and can signal the
service's processes. Use it only where bubblewrap cannot run, and only when explicitly allowed
(`AGENTRUNS_ALLOW_UNISOLATED_SANDBOX`).
"""

import os
from pathlib import Path

from agentruns.sandbox import jail_user
from agentruns.sandbox import workspace as files
from agentruns.sandbox.disk_watch import DiskWatch
from agentruns.sandbox.errors import SandboxError
from agentruns.sandbox.protocol import CommandResult, SandboxLimits, SandboxState
from agentruns.sandbox.runner import Sessions, launcher, run_tree

PROVIDER = "unisolated"


class SubprocessSandbox:
    """A sandbox that is not one: each command is `bash -c` in its own session, in the workspace directory."""

    provider = PROVIDER

    def __init__(self, workspace: Path, limits: SandboxLimits) -> None:
        self.workspace = workspace.resolve()
        self.runtime_id = self.workspace.name
        self.limits = limits
        self.state: SandboxState = "created"
        self._sessions = Sessions()
        self._disk = DiskWatch(self.workspace, limits.disk, None)

    async def start(self) -> None:
        """Create the workspace."""
        try:
            self.workspace.mkdir(mode=0o700, parents=True, exist_ok=True)  # the sandbox's alone
        except BaseException:
            self.state = "error"
            raise
        self.state = "running"

    async def run(self, command: str, *, timeout_seconds: float | None = None) -> CommandResult:
        """Run `bash -c command` in the workspace; see `Sandbox.run`.

        The time limit and cancellation kill the command's session; a process that left it (setsid) and
        closed its output survives. The process count limit does not hold when the service is root.
        """
        if self.state != "running":
            raise SandboxError(f"the sandbox is not running (it is {self.state})")
        limit = self.limits.command_timeout_seconds if timeout_seconds is None else timeout_seconds
        # The service's environment holds its secrets (provider keys, database URL): none of it is passed.
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(self.workspace), "LANG": "C.UTF-8"}
        finished = await run_tree(
            lambda fds: launcher(command, self.limits, limit, fds, kill_scope="0"),
            timeout_seconds=limit, output_chars=self.limits.output_chars, sessions=self._sessions,
            cwd=self.workspace, env=env,
            watch=self._disk.until_full,
        )  # fmt: skip
        if not finished.launched and not finished.result.timed_out:
            raise SandboxError(f"the command could not be started: {finished.result.stderr.strip()}")
        return finished.result

    async def read_file(self, path: str) -> bytes:
        """See `Sandbox.read_file`."""
        return await jail_user.call(None, files.read, self.workspace, path)

    async def write_file(self, path: str, data: bytes) -> None:
        """See `Sandbox.write_file`."""
        await self._disk.check_room(len(data))
        await jail_user.call(None, files.write, self.workspace, path, data)

    async def stop(self) -> None:
        """Kill every running command's session and end the sandbox."""
        if self.state in ("running", "created"):
            self.state = "ended"
        await self._sessions.kill_all()
