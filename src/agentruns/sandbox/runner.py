"""Run one command as a process tree: rlimits, a time limit, capped output, and nothing left behind."""

import asyncio
import contextlib
import functools
import math
import os
import resource
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agentruns.sandbox.orphans import owner_mark
from agentruns.sandbox.protocol import CommandResult, SandboxLimits

NICENESS = 10
"""Commands run below the service's priority, so that a busy tool does not slow the API and the workers."""

_SETTLE_SECONDS = 5.0  # how long a killed tree may take to vanish before we stop waiting for it

# The launcher sets the limits in the process that then becomes `bash -c command`, so they hold for the
# command and everything it starts. It runs inside the sandbox, after its user namespace exists: a
# process count set there counts the processes of this sandbox only. `trap '' XFSZ` (ignored signals
# survive exec) makes a write beyond the file size limit fail with EFBIG ("File too large") instead of
# killing the writer. An OOM score adjustment of 1000 makes the kernel's OOM killer take sandbox
# processes before the service's when the host runs out of memory (a command may lower it back to the
# default 0, never below). Writing to the `started` pipe tells the runner the sandbox itself came up.
#
# The watcher makes the command die with the service, whenever the service dies. The service holds the
# only write end of the `alive` pipe for as long as it waits for the command; when the service's process
# dies, the kernel closes it, the watcher's read ends, and it kills every process it may: the whole
# sandbox in bubblewrap's pid namespace (`-1`), the process group without one (`0`). bubblewrap's
# --die-with-parent alone leaves a gap: a service killed while bubblewrap starts, before its processes
# asked for that signal, left the command running with no one to end it.
_LAUNCHER = """\
ulimit -c 0 -d {data_kib} -f {file_kib} -n {open_files} -t {cpu_seconds} -u {processes} || exit 125
echo 1000 2>/dev/null >/proc/self/oom_score_adj
( exec </dev/null >/dev/null 2>&1 {started}>&-; read -r -u {alive} _; kill -KILL {kill_scope} ) &
exec {alive}<&-
printf . >&{started} && exec {started}>&-
trap '' XFSZ
if command -v nice >/dev/null; then exec nice -n {niceness} bash -c "$1"; fi
exec bash -c "$1"
"""


@dataclass(frozen=True, slots=True)
class LauncherFds:
    """The fds the launcher inherits: `started`, which it writes to once it runs, and `alive` (see above)."""

    started: int
    alive: int


KillScope = Literal["-1", "0"]
"""Whom the watcher kills: every process it may signal (in a pid namespace of its own) or its process group."""


def launcher(
    command: str, limits: SandboxLimits, timeout_seconds: float, fds: LauncherFds, kill_scope: KillScope
) -> list[str]:
    """The argv that applies `limits`, starts the watcher and then runs `bash -c command`.

    Memory is RLIMIT_DATA (heap and private writable mappings, per process) rather than RLIMIT_AS: address
    space a runtime merely reserves (the JVM's class space, V8's cage) is not memory used, and RLIMIT_AS
    of a few GiB stops the JVM from starting at all. CPU time (RLIMIT_CPU, per process) is a backstop of
    `cpu` cores busy for the whole time limit. Each limit is clamped to the hard limit the service has.
    """
    values = {
        resource.RLIMIT_DATA: limits.memory_mib * 1024,
        resource.RLIMIT_FSIZE: limits.max_file_mib * 1024,
        resource.RLIMIT_NOFILE: limits.max_open_files,
        resource.RLIMIT_CPU: math.ceil(limits.cpu * timeout_seconds) + 1,
        resource.RLIMIT_NPROC: limits.max_processes,
    }
    # bash counts -d and -f in KiB; getrlimit counts bytes for them.
    per_unit = {resource.RLIMIT_DATA: 1024, resource.RLIMIT_FSIZE: 1024}
    for limit, value in values.items():
        hard = resource.getrlimit(limit)[1]
        if hard != resource.RLIM_INFINITY:
            values[limit] = min(value, hard // per_unit.get(limit, 1))
    script = _LAUNCHER.format(
        data_kib=values[resource.RLIMIT_DATA],
        file_kib=values[resource.RLIMIT_FSIZE],
        open_files=values[resource.RLIMIT_NOFILE],
        cpu_seconds=values[resource.RLIMIT_CPU],
        processes=values[resource.RLIMIT_NPROC],
        started=fds.started,
        alive=fds.alive,
        kill_scope=kill_scope,
        niceness=NICENESS,
    )
    return ["bash", "-c", script, owner_mark(), command]


@dataclass(frozen=True, slots=True)
class Finished:
    """A command's result, and whether the launcher ran (if not, the sandbox failed to come up)."""

    result: CommandResult
    launched: bool


async def run_tree(
    argv_for: Callable[[LauncherFds], Sequence[str]],
    *,
    timeout_seconds: float,
    output_chars: int,
    sessions: "Sessions",
    pass_fds: Sequence[int] = (),
    user: tuple[int, int] | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    settle: Callable[[], Awaitable[None]] | None = None,
    watch: Callable[[], Awaitable[str]] | None = None,
    place: Callable[[int], None] | None = None,
    spawner: Executor | None = None,
) -> Finished:
    """Start `argv_for(started_fd)` in a new session and wait for it, its time limit, or cancellation.

    Whichever comes first, the session is killed (SIGKILL) before this returns or re-raises, and `settle`
    (the provider's wait for processes outside the session, such as a pid namespace) is awaited.

    Args:
        argv_for: The argv, given the fds the launcher inherits.
        timeout_seconds: The time limit.
        output_chars: Characters of stdout and of stderr to keep.
        sessions: The sandbox's running commands; this one is among them until it settled.
        pass_fds: More fds the process inherits.
        user: Host uid and gid to start the process as (no supplementary groups); None: the service's.
        cwd: Working directory of the process.
        env: Its whole environment.
        settle: Awaited after the kill, to wait until every process of the command is gone.
        watch: Runs beside the command; if it returns first, the command is killed and its error output
            ends with `[killed: <what it returned>]` (a workspace over its disk limit).
        place: Called with the process's pid before it runs its program, which waits for it to return (to
            put the process in the sandbox's cgroup before anything of the command can start). If it raises,
            the process ends without running anything and the error goes on.
        spawner: Where the process is started (forked): a thread in the sandbox's cgroup (see
            `cgroups.Spawner`), so that it is in the group from its first instruction; None: a thread of the
            default executor.
    """
    stdout, stdout_fd = await _Capture.open(output_chars * 4)  # up to 4 bytes a character in UTF-8
    stderr, stderr_fd = await _Capture.open(output_chars * 4)
    started_read, started_write = os.pipe()
    os.set_blocking(started_read, False)
    alive_read, alive_write = os.pipe()  # both ends close on exec: only the read end is passed on, below
    hold_read, hold_write = os.pipe() if place is not None else (-1, -1)
    argv = list(argv_for(LauncherFds(started=started_write, alive=alive_read)))
    if place is not None:
        # A shell that waits for a line on its stdin, the hold pipe, before it becomes the program (with stdin
        # from /dev/null, as without a hold); at the pipe's end (no line: the service failed to place it, or
        # died) it exits without running anything.
        argv = ["/bin/sh", "-c", 'read -r _ && exec "$@" </dev/null', "hold", *argv]
    uid, gid = user if user is not None else (None, None)
    began = time.monotonic()
    try:
        popen = functools.partial(
            subprocess.Popen, argv, stdin=hold_read if place is not None else subprocess.DEVNULL, stdout=stdout_fd,
            stderr=stderr_fd, pass_fds=(started_write, alive_read, *pass_fds),
            start_new_session=True, cwd=cwd, env=env, umask=0o022,
            user=uid, group=gid, extra_groups=[] if user is not None else None,
        )  # fmt: skip
        process = _Child(await asyncio.get_running_loop().run_in_executor(spawner, popen))
    except BaseException:
        stdout.close()
        stderr.close()
        os.close(started_read)
        os.close(alive_write)
        if place is not None:
            os.close(hold_write)
        raise
    finally:
        for fd in (stdout_fd, stderr_fd, started_write, alive_read, *([hold_read] if place is not None else [])):
            os.close(fd)
    sessions.add(process.pid)
    if place is not None:
        try:
            await asyncio.to_thread(place, process.pid)  # it may wait a grace period of the kernel's RCU
            os.write(hold_write, b"\n")
        except BaseException:
            _kill_session(process.pid)
            await _settle(process, None, stdout, stderr)
            stdout.close()
            stderr.close()
            sessions.discard(process.pid)
            os.close(started_read)
            os.close(alive_write)
            raise
        finally:
            os.close(hold_write)
    timed_out = False
    stopped: str | None = None
    watcher = None if watch is None else asyncio.ensure_future(watch())
    try:
        async with asyncio.timeout(timeout_seconds):
            stopped = await _exit_or_watch(process, watcher)
    except TimeoutError:
        timed_out = True
    finally:  # also on cancellation: nothing of the command may outlive this call
        if watcher is not None:
            watcher.cancel()
        try:
            _kill_session(process.pid)
            await _settle(process, settle, stdout, stderr)
        finally:
            stdout.close()
            stderr.close()
            sessions.discard(process.pid)
            launched = _read_nowait(started_read) == b"."
            os.close(started_read)
            os.close(alive_write)  # only now: closing it earlier would have the watcher kill the command
    code = process.returncode
    if timed_out:
        exit_code = None
        stopped = f"the command exceeded its time limit of {timeout_seconds:g} s"
    else:
        exit_code = 128 - code if code is not None and code < 0 else code  # killed by signal N: 128 + N
    error_text = stderr.text(output_chars)
    if stopped is not None:
        note = f"[killed: {stopped}]"
        error_text = f"{error_text}\n{note}" if error_text else note
    result = CommandResult(
        exit_code=exit_code,
        stdout=stdout.text(output_chars),
        stderr=error_text,
        timed_out=timed_out,
        duration_ms=round((time.monotonic() - began) * 1000),
    )
    return Finished(result, launched)


async def _exit_or_watch(process: "_Child", watcher: "asyncio.Future[str] | None") -> str | None:
    """Wait for the process to exit (None) or the watcher to return first (what it returned)."""
    if watcher is None:
        await process.wait()
        return None
    exited = asyncio.ensure_future(process.wait())
    try:
        await asyncio.wait({exited, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        exited.cancel()
    if exited.done() and not exited.cancelled():
        return None
    if watcher.exception() is not None:  # the watch broke: the command goes on without it
        await process.wait()
        return None
    return watcher.result()


def _kill_session(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class Sessions:
    """The process sessions (one per command) a sandbox is running, so that `stop` can kill them all."""

    def __init__(self) -> None:
        self._pids: set[int] = set()
        self._none = asyncio.Event()
        self._none.set()

    def add(self, pid: int) -> None:
        """A command's session started; `pid` is its leader's and the session's id."""
        self._pids.add(pid)
        self._none.clear()

    def discard(self, pid: int) -> None:
        """The command's processes are gone."""
        self._pids.discard(pid)
        if not self._pids:
            self._none.set()

    async def kill_all(self) -> None:
        """SIGKILL every session and wait until their `run_tree` calls have settled."""
        for pid in list(self._pids):
            _kill_session(pid)
        await self._none.wait()


async def _settle(
    process: "_Child",
    settle: Callable[[], Awaitable[None]] | None,
    stdout: "_Capture",
    stderr: "_Capture",
) -> None:
    """Wait, within bounds, for the killed tree to be gone and for its output to be read to the end."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_SETTLE_SECONDS):
            await process.wait()
            if settle is not None:
                await settle()
            # What the command wrote before it died is still in the pipes.
            await asyncio.gather(stdout.closed, stderr.closed)


class _Child:
    """A started process, waited for through its pidfd (asyncio's child watchers know only the processes they
    started themselves, in the event loop's thread)."""

    def __init__(self, popen: "subprocess.Popen[bytes]") -> None:
        self._popen = popen
        self.pid = popen.pid
        loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[None] = loop.create_future()
        self._pidfd = os.pidfd_open(popen.pid)  # it cannot have been reaped: only `_reap` waits for it
        loop.add_reader(self._pidfd, self._reap)

    def _reap(self) -> None:
        asyncio.get_running_loop().remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._popen.wait()
        self._exited.set_result(None)

    @property
    def returncode(self) -> int | None:
        """Its exit status once it was reaped (-N: killed by signal N), else None."""
        return self._popen.returncode

    async def wait(self) -> int | None:
        """Wait until it has exited and been reaped; its `returncode`."""
        await asyncio.shield(self._exited)
        return self.returncode


def _read_nowait(fd: int) -> bytes:
    try:
        return os.read(fd, 1)
    except BlockingIOError:
        return b""


class _Capture(asyncio.Protocol):
    """Reads a pipe to its end, keeping the first `limit` bytes and counting the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: list[bytes] = []
        self.kept = 0
        self.dropped = 0
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.BaseTransport | None = None

    @classmethod
    async def open(cls, limit: int) -> tuple["_Capture", int]:
        """A capture reading a new pipe, and the pipe's write end for the child."""
        read_fd, write_fd = os.pipe()
        capture = cls(limit)
        await asyncio.get_running_loop().connect_read_pipe(lambda: capture, os.fdopen(read_fd, "rb", buffering=0))
        return capture, write_fd

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        room = max(self.limit - self.kept, 0)
        if room:
            self.chunks.append(data[:room])
            self.kept += min(room, len(data))
        self.dropped += max(len(data) - room, 0)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        """Stop reading (a no-op once the pipe reached its end)."""
        if self.transport is not None:
            self.transport.close()

    def text(self, chars: int) -> str:
        """What was read, cut at `chars` characters with a note of how many more there were.

        Bytes beyond what was kept are counted as one character each, as they were never decoded.
        """
        text = b"".join(self.chunks).decode(errors="replace")
        if len(text) <= chars and not self.dropped:
            return text
        more = len(text) - chars + self.dropped
        return text[:chars] + f"\n[output cut: {more} more characters not shown]"
