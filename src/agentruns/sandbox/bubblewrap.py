"""The bubblewrap provider: each command in fresh namespaces that see only the workspace and a shell's needs."""

import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import signal
from collections.abc import Sequence
from pathlib import Path

from agentruns.sandbox import cgroups, jail_user, seccomp
from agentruns.sandbox import workspace as files
from agentruns.sandbox.disk_watch import DiskWatch
from agentruns.sandbox.egress import jail
from agentruns.sandbox.egress.access import NetworkAccess
from agentruns.sandbox.egress.proxy import EgressProxy
from agentruns.sandbox.errors import SandboxError
from agentruns.sandbox.etc import HOSTNAME, SANDBOX_UID, prepared_etc
from agentruns.sandbox.protocol import CommandResult, SandboxLimits, SandboxState
from agentruns.sandbox.root import make_workspace
from agentruns.sandbox.runner import LauncherFds, Sessions, launcher, run_tree

PROVIDER = "bubblewrap"
HOST_UID = 65534
"""The host uid (and gid) bubblewrap runs as when the service is root: `nobody`, never root (see docs)."""
SHM_MIB = 64

# Top-level host paths a shell needs, each a symlink into /usr (merged /usr) or a directory.
_ROOT_ENTRIES = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
    "HOME": files.MOUNT_POINT,
    "LANG": "C.UTF-8",
    "USER": "sandbox",
    "LOGNAME": "sandbox",
    "SHELL": "/bin/bash",
    "TMPDIR": "/tmp",  # noqa: S108 - the sandbox's own /tmp
}


def host_user() -> tuple[int, int] | None:
    """The host uid and gid bubblewrap runs as: `nobody` when the service is root, else the service's own."""
    return (HOST_UID, HOST_UID) if os.geteuid() == 0 else None


def bwrap_argv(
    bwrap: str,
    workspace: Path,
    limits: SandboxLimits,
    *,
    etc: Path,
    info_fd: int,
    command: Sequence[str],
    seccomp_fd: int | None = None,
    egress: Path | None = None,
) -> list[str]:
    """The bubblewrap command line that runs `command` in a jail of its own.

    Args:
        bwrap: The bubblewrap executable.
        workspace: The host directory mounted read-write at /workspace.
        limits: Sizes of /tmp.
        etc: The directory bound read-only as /etc (see `sandbox/etc.py`).
        info_fd: Where bubblewrap writes the host pid of the sandbox's init (its pid namespace lives as long).
        command: What to run inside.
        seccomp_fd: Where bubblewrap reads the seccomp filter it applies to `command` (see `sandbox/seccomp.py`).
        egress: The socket of the sandbox's egress proxy, bound in (see `egress/jail.py`); None: no network.
    """
    argv = [bwrap, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
    # No user namespaces inside (less kernel surface); the jail dies with the service; no TIOCSTI on a tty.
    argv += ["--disable-userns", "--hostname", HOSTNAME, "--die-with-parent", "--new-session"]
    argv += ["--ro-bind", "/usr", "/usr"]
    for name in _ROOT_ENTRIES:
        entry = Path("/") / name
        if entry.is_symlink():
            argv += ["--symlink", os.readlink(entry), str(entry)]
        elif entry.is_dir():
            argv += ["--ro-bind", str(entry), str(entry)]
    # Fresh tmpfs for /tmp and /dev/shm; they live in RAM, so they are bounded like the memory.
    tmp_bytes, shm_bytes = str(limits.memory_mib * 1024 * 1024), str(SHM_MIB * 1024 * 1024)
    argv += ["--proc", "/proc", "--dev", "/dev", "--size", shm_bytes, "--tmpfs", "/dev/shm"]  # noqa: S108
    argv += ["--size", tmp_bytes, "--tmpfs", "/tmp", "--ro-bind", str(etc), "/etc"]  # noqa: S108
    argv += ["--bind", str(workspace), files.MOUNT_POINT]
    if egress is not None:  # the jail keeps its own network namespace: the proxy is its only way out
        argv += ["--ro-bind", str(egress), jail.SOCKET_IN_JAIL]
    # Nothing but /workspace, /tmp and /dev/shm is writable; bubblewrap's root and /dev are tmpfs otherwise.
    argv += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", files.MOUNT_POINT, "--clearenv"]
    for name, value in (ENV | jail.ENV if egress is not None else ENV).items():
        argv += ["--setenv", name, value]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    argv += ["--info-fd", str(info_fd), "--", *command]
    return argv


class BubblewrapSandbox:
    """A run's sandbox on bubblewrap: each command gets its own jail over the same workspace.

    Every `run` starts a new `bwrap` with new user, pid, mount, ipc, uts, cgroup and network namespaces (with
    `egress`, the jail reaches out only through the run's egress proxy); its processes run as uid 1000 inside,
    which is `nobody` on the host when the service is root. The pid namespace dies with the command, so nothing
    it started in the background survives it.
    """

    provider = PROVIDER

    def __init__(
        self,
        workspace: Path,
        limits: SandboxLimits,
        *,
        egress: NetworkAccess | None = None,
        bwrap: str = "bwrap",
        allow_unfiltered: bool = False,
    ) -> None:
        self.workspace = workspace.resolve()
        self.runtime_id = self.workspace.name
        self.limits = limits
        self.network = egress is not None
        self.state: SandboxState = "created"
        self._bwrap = shutil.which(bwrap)
        self._bwrap_setting = bwrap
        self._owner = host_user()
        self._proxy = EgressProxy(egress, self.workspace.parent, self._owner) if egress is not None else None
        self._sessions = Sessions()
        self._disk = DiskWatch(self.workspace, limits.disk, self._owner)
        self._etc: Path | None = None
        self._group: cgroups.SandboxGroup | None = None
        self._spawner: cgroups.Spawner | None = None
        self._filter = seccomp.status()
        self._allow_unfiltered = allow_unfiltered

    async def start(self) -> None:
        """Create the workspace, give it to the sandbox's host user and prepare /etc; no jail starts yet.

        That bubblewrap can make a jail here was checked when the worker started (`check_bubblewrap`); what
        can differ per run is checked here. A jail that still fails to come up fails its command (see `run`).
        """
        try:
            if self._bwrap is None:
                raise SandboxError(f"bubblewrap ({self._bwrap_setting!r}) is not installed: apt-get install bubblewrap")
            if self._filter.program is None and not self._allow_unfiltered:
                raise SandboxError(f"{self._filter.description}; {seccomp.ALLOW_SETTING}=true would run it without")
            self.workspace.parent.mkdir(parents=True, exist_ok=True)
            if self._owner is not None:
                check_reachable(self.workspace.parent, self._owner)
            make_workspace(self.workspace, self._owner)  # the sandbox's alone
            self._etc = await asyncio.to_thread(prepared_etc, self.workspace.parent, network=self.network)
            if self._proxy is not None:
                await self._proxy.start()
            tree = cgroups.detect()
            if tree is not None:
                try:
                    await self._join_group(tree)
                except OSError as exc:
                    raise SandboxError(f"the sandbox's cgroup ({tree.description}) could not be made: {exc}") from exc
            self.state = "running"
        except BaseException:
            self.state = "error"
            raise

    async def _join_group(self, tree: cgroups.Tree) -> None:
        """Make the sandbox's cgroup with its limits: on v1 with a `Spawner` to start its commands in it."""
        limits = self.limits
        if tree.version == "v1":
            self._spawner = await cgroups.take_spawner(tree)
            self._group = group = self._spawner.group
        else:
            self._group = group = cgroups.SandboxGroup(tree, cgroups.group_name(self.runtime_id))
            await asyncio.to_thread(group.make)
        await asyncio.to_thread(
            group.limit, memory_mib=limits.memory_mib, max_processes=limits.max_processes, cpu=limits.cpu
        )

    async def run(self, command: str, *, timeout_seconds: float | None = None) -> CommandResult:
        """Run `bash -c command` in a new jail; see `Sandbox.run`."""
        if self.state != "running" or self._bwrap is None or self._etc is None:
            raise SandboxError(f"the sandbox is not running (it is {self.state})")
        bwrap, etc = self._bwrap, self._etc
        egress = self._proxy.socket if self._proxy is not None else None
        limit = self.limits.command_timeout_seconds if timeout_seconds is None else timeout_seconds
        # A file, not a pipe: bubblewrap writing to a pipe whose reader died (the service) would die of
        # SIGPIPE and leave its half-made sandbox waiting forever for it.
        info_fd = os.memfd_create("bwrap-info")
        program, seccomp_fd = self._filter.program, None
        group = self._group
        before = group.events() if group is not None else None
        try:
            seccomp_fd = seccomp.program_fd(program) if program is not None else None
            finished = await run_tree(
                lambda fds: bwrap_argv(
                    bwrap, self.workspace, self.limits, etc=etc, info_fd=info_fd, egress=egress, seccomp_fd=seccomp_fd,
                    command=_bridged(launcher(command, self.limits, limit, fds, kill_scope="-1"), fds, egress),
                ),
                timeout_seconds=limit, output_chars=self.limits.output_chars, sessions=self._sessions,
                pass_fds=(info_fd,) if seccomp_fd is None else (info_fd, seccomp_fd), user=self._owner,
                env={"PATH": os.defpath},
                settle=lambda: _end_namespace(info_fd),
                watch=self._disk.until_full,
                place=group.place if group is not None and self._spawner is None else None,
                spawner=self._spawner.executor if self._spawner is not None else None,
            )  # fmt: skip
        finally:
            os.close(info_fd)
            if seccomp_fd is not None:
                os.close(seccomp_fd)
        if not finished.launched and not finished.result.timed_out and self.state == "running":
            self.state = "error"
            raise SandboxError(f"bubblewrap could not start the sandbox: {finished.result.stderr.strip()}")
        if group is None or before is None:
            return finished.result
        notes = cgroups.limit_notes(before, group.events(), memory_mib=self.limits.memory_mib,
                                    max_processes=self.limits.max_processes)  # fmt: skip
        if not notes:
            return finished.result
        stderr = "\n".join([finished.result.stderr, *notes] if finished.result.stderr else notes)
        return dataclasses.replace(finished.result, stderr=stderr)

    async def read_file(self, path: str) -> bytes:
        """See `Sandbox.read_file`; read as the sandbox's host user, who must be allowed to."""
        return await jail_user.call(self._owner, files.read, self.workspace, path)

    async def write_file(self, path: str, data: bytes) -> None:
        """See `Sandbox.write_file`; written as the sandbox's host user, to whom what it creates belongs."""
        await self._disk.check_room(len(data))
        await jail_user.call(self._owner, files.write, self.workspace, path, data)

    @property
    def enforcement(self) -> str:
        """What enforces the sandbox's limits (for its run's `runtime` log): of memory, processes and CPU, and of
        its workspace's disk."""
        return f"{cgroups.enforcement()}, disk by measuring the workspace"

    @property
    def syscall_filter(self) -> str:
        """Whether its commands' system calls are filtered (for its run's `runtime` log)."""
        return self._filter.description

    async def stop(self) -> None:
        """Kill every running command's jail (its whole pid namespace), remove its cgroup and end the sandbox."""
        if self.state in ("running", "created"):
            self.state = "ended"
        await self._sessions.kill_all()
        if self._proxy is not None:
            await self._proxy.stop()
        spawner, self._spawner = self._spawner, None
        if spawner is not None:
            await spawner.stop()
        group, self._group = self._group, None
        if group is not None:
            await group.remove()
            if spawner is not None:
                cgroups.make_spare(group.tree)


def _bridged(command: list[str], fds: LauncherFds, egress: Path | None) -> list[str]:
    """The command, behind the bridge to the egress proxy if the sandbox has one."""
    return jail.bridged(command, fds) if egress is not None else command


def check_reachable(directory: Path, owner: tuple[int, int]) -> None:
    """Refuse a directory of workspaces that the sandbox's host user cannot reach: bubblewrap opens them as it.

    Raises:
        SandboxError: `directory`, or one above it, is not searchable by `owner`; the message says how to fix it.
    """
    uid, gid = owner
    for step in (*reversed(directory.parents), directory):
        info = step.stat()
        bit = 0o100 if info.st_uid == uid else 0o010 if info.st_gid == gid else 0o001
        if not info.st_mode & bit:
            raise SandboxError(
                f"the sandbox's host user (uid {uid}) cannot reach the workspaces in {directory}: {step} is not "
                f"searchable by it; put the workspace root under directories with o+x (chmod o+x {step}) "
                "or run the service as an unprivileged user"
            )


async def _end_namespace(info_fd: int) -> None:
    """Kill the jail's init, and so its whole pid namespace, and wait until it is gone (bwrap's info names its
    pid).

    Its init normally exits with the command, and `--die-with-parent` kills it with bubblewrap; but a command
    may take it over (ptrace, where nothing refuses it) and clear that, so the service kills it itself: a
    SIGKILL from the parent namespace ends a namespace's init whatever it does.
    """
    try:
        info: dict[str, object] = json.loads(os.pread(info_fd, 65536, 0) or b"{}")
        pid = info["child-pid"]
    except (ValueError, KeyError, TypeError):
        return  # bubblewrap failed before it made the namespace
    if not isinstance(pid, int):
        return
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if _is_namespace_init(pid):
            with contextlib.suppress(ProcessLookupError):
                # Through the pidfd: if the init was gone and its pid taken since, the status read above was the
                # other process's, but the signal goes to the process the pidfd was opened on, or nowhere.
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        # A pidfd becomes readable when its process has exited; the kernel kills and waits for every other
        # process of a pid namespace before its init's exit is reported.
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[None] = loop.create_future()
        loop.add_reader(pidfd, lambda: exited.done() or exited.set_result(None))
        try:
            await exited
        finally:
            loop.remove_reader(pidfd)
    finally:
        os.close(pidfd)


def _is_namespace_init(pid: int) -> bool:
    """Whether the process is pid 1 of a pid namespace below this one (its `NSpid` line ends in 1): a jail's
    init, not whatever process took its pid since it was reaped."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("NSpid:"):
            levels = line.split()[1:]
            return len(levels) >= 2 and levels[-1] == "1"
    return False
