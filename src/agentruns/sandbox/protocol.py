"""The interface every sandbox provider implements, and the limits and results it deals in."""

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from agentruns.sandbox.disk_watch import DiskLimits

SandboxState = Literal["created", "running", "ended", "error"]
"""`created` until `start`; then `running`; `ended` after `stop`; `error` when it could not start or run."""

DEFAULT_OUTPUT_CHARS = 30_000
DEFAULT_COMMAND_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    """What one sandbox's commands may use; each provider documents which of these it enforces and how.

    Attributes:
        cpu: The agent's `sandbox.cpu` (cores).
        memory_mib: The agent's `sandbox.memoryMiB`.
        max_processes: Processes (and threads) the sandbox may have at once.
        max_file_mib: Largest file a command may write.
        max_workspace_mib: Disk the workspace may take; a command that goes over it is killed, and a
            write that would is refused.
        max_workspace_entries: Files, directories and links the workspace may hold, enforced as
            `max_workspace_mib` is.
        max_open_files: File descriptors one process may hold.
        command_timeout_seconds: Time limit of a command unless `run` is given another.
        output_chars: Characters of stdout, and of stderr, returned; the rest is cut with a note.
    """

    cpu: int
    memory_mib: int
    max_processes: int = 256
    max_file_mib: int = 512
    max_workspace_mib: int = 4096
    max_workspace_entries: int = 100_000
    max_open_files: int = 1024
    command_timeout_seconds: float = DEFAULT_COMMAND_TIMEOUT_SECONDS
    output_chars: int = DEFAULT_OUTPUT_CHARS

    @property
    def disk(self) -> DiskLimits:
        """The workspace's limits."""
        return DiskLimits(max_mib=self.max_workspace_mib, max_entries=self.max_workspace_entries)


@dataclass(frozen=True, slots=True)
class CommandResult:
    """How a command ended and what it printed.

    Attributes:
        exit_code: The exit status (128 + N when killed by signal N); None when the time limit killed it.
        stdout: What it printed, cut at the output limit with a note `[output cut: N more characters not shown]`.
        stderr: The same for its error output.
        timed_out: Whether the time limit killed it (with every process it started).
        duration_ms: Wall time from start to the end of its last process.
    """

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    duration_ms: int


class Sandbox(Protocol):
    """One run's place to execute tools: a workspace directory, seen inside as `/workspace`, and commands.

    A sandbox is made per run, started once, used by one tool call at a time and stopped when the run ends.
    Cancelling a task awaiting `run` kills every process of that command before `CancelledError` goes on,
    which is how a run is cancelled within a second.
    """

    @property
    def provider(self) -> str:
        """The provider's name as the run's details show it (`bubblewrap`, `unisolated`, …)."""
        ...

    @property
    def runtime_id(self) -> str:
        """This sandbox's id at its provider, shown as the run's `runtimeId`."""
        ...

    @property
    def workspace(self) -> Path:
        """The host directory that is `/workspace` inside; it outlives the sandbox."""
        ...

    @property
    def state(self) -> SandboxState:
        """Where the sandbox is in its life, shown as the run's `runtimeState`."""
        ...

    async def start(self) -> None:
        """Prepare the sandbox and check that commands can run in it.

        Raises:
            SandboxError: It cannot run commands; `state` is then `error`.
        """
        ...

    async def run(self, command: str, *, timeout_seconds: float | None = None) -> CommandResult:
        """Run `bash -c command` in `/workspace` and wait for it and every process it started.

        Args:
            command: The command line.
            timeout_seconds: The time limit, instead of the limits' `command_timeout_seconds`.

        Raises:
            SandboxError: The sandbox is not running or could not start the command.
        """
        ...

    async def read_file(self, path: str) -> bytes:
        """The content of a workspace file (`notes.txt` and `/workspace/notes.txt` are the same file).

        A provider bounds what it loads: the local ones refuse files longer than 16 MiB
        (`workspace.MAX_READ_BYTES`) with EFBIG.

        Raises:
            PathOutsideWorkspace: The path, or a symlink on it, leads outside the workspace.
            OSError: The file cannot be read (missing, a directory, …), or is longer than the provider loads.
        """
        ...

    async def write_file(self, path: str, data: bytes) -> None:
        """Create or replace a workspace file, and its missing directories, so that commands may change it.

        Raises:
            PathOutsideWorkspace: The path, or a symlink on it, leads outside the workspace.
            OSError: The file cannot be written.
        """
        ...

    async def stop(self) -> None:
        """Kill every process of the sandbox and end it; the workspace stays. Calling it again does nothing."""
        ...
