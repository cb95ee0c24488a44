"""Limits per sandbox, not per process: memory (processes and the RAM-backed /tmp together), a process count
and a CPU quota, through a cgroup per sandbox.

Where the service has a delegated cgroup v2 subtree, the sandbox's group is made there; where cgroup v1
controllers are mounted and writable (as root, on most hosts without v2), one group is made in each of the
`memory`, `pids` and `cpu` hierarchies, under the service's own group, so that the host's limits on the service
also hold for its sandboxes. Neither: the rlimits of `runner.py` are all there is. `detect()` says which, once
per process; the worker's start-up line and each run's `runtime` log show it.

Groups are named `agentruns/<service pid>-<start time>/<sandbox>`, so that any service of the host can remove
those a dead service left (`sweep`).
"""

import asyncio
import contextlib
import functools
import os
import re
import signal
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agentruns.sandbox.orphans import service_alive, service_mark

CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000
_REMOVE_ATTEMPTS = 50  # a group whose processes were just killed is busy until the kernel has reaped them
_MARK = re.compile(r"(\d+)-(\d+)")


@dataclass(frozen=True, slots=True)
class Tree:
    """Where sandbox groups are made: one directory per controller (v2: the same one for all)."""

    version: Literal["v1", "v2"]
    bases: dict[str, Path]

    @property
    def description(self) -> str:
        """How the worker's start-up line and a run's log name it: `cgroup v1 (memory, pids, cpu)`."""
        return f"cgroup {self.version} ({', '.join(self.bases)})"


@dataclass(frozen=True, slots=True)
class Events:
    """How often the kernel enforced a sandbox's limits so far: OOM kills, and forks refused at `pids.max`."""

    oom_kills: int = 0
    forks_refused: int = 0


class SandboxGroup:
    """The cgroup of one sandbox: made with its limits, processes placed in it, removed when it stops."""

    def __init__(self, tree: Tree, name: str) -> None:
        self.tree = tree
        self.directories = {controller: base / name for controller, base in tree.bases.items()}

    def create(self, *, memory_mib: int, max_processes: int, cpu: float) -> None:
        """Make the group with these limits.

        Raises:
            OSError: It could not be made (the sandbox must not run without it).
        """
        self.make()
        try:
            self.limit(memory_mib=memory_mib, max_processes=max_processes, cpu=cpu)
        except BaseException:
            self.remove_now()
            raise

    def make(self) -> None:
        """Make the group's directories, with no limits yet.

        Raises:
            OSError: They could not be made (none is left).
        """
        made: list[Path] = []
        try:
            for directory in dict.fromkeys(self.directories.values()):
                directory.mkdir()
                made.append(directory)
        except BaseException:
            for directory in reversed(made):
                with contextlib.suppress(OSError):
                    directory.rmdir()
            raise

    def limit(self, *, memory_mib: int, max_processes: int, cpu: float) -> None:
        """Set the group's limits.

        Raises:
            OSError: One could not be set.
        """
        memory = memory_mib * 1024 * 1024
        quota = round(cpu * CPU_PERIOD_US)
        if self.tree.version == "v2":
            self._write("memory", "memory.max", memory)
            self._write("memory", "memory.swap.max", 0, optional=True)
            self._write("pids", "pids.max", max_processes)
            self._write("cpu", "cpu.max", f"{quota} {CPU_PERIOD_US}")
        else:
            self._write("memory", "memory.limit_in_bytes", memory)
            self._write("memory", "memory.memsw.limit_in_bytes", memory, optional=True)  # no swap either
            self._write("pids", "pids.max", max_processes + 1)  # and the service's `Spawner` thread
            self._write("cpu", "cpu.cfs_period_us", CPU_PERIOD_US)
            self._write("cpu", "cpu.cfs_quota_us", quota)

    def remove_now(self) -> None:
        """Remove the group's directories where they are empty (a group that never had a process)."""
        for directory in reversed(list(dict.fromkeys(self.directories.values()))):
            with contextlib.suppress(OSError):
                directory.rmdir()

    def _write(self, controller: str, name: str, value: object, *, optional: bool = False) -> None:
        directory = self.directories.get(controller)
        if directory is None or (optional and not (directory / name).exists()):
            return
        (directory / name).write_text(f"{value}\n")

    def place(self, pid: int) -> None:
        """Move the process into the group; what it starts from then on is in it too."""
        for directory in dict.fromkeys(self.directories.values()):
            (directory / "cgroup.procs").write_text(f"{pid}\n")

    def place_this_thread(self) -> None:
        """Move the calling thread (not its process: v1 only) into the group; what it starts is in it too."""
        for directory in dict.fromkeys(self.directories.values()):
            (directory / "tasks").write_text(f"{threading.get_native_id()}\n")

    def events(self) -> Events:
        """The counts of `Events` until now (0 for a controller the tree lacks)."""
        memory = self.directories.get("memory")
        pids = self.directories.get("pids")
        oom_file = "memory.events" if self.tree.version == "v2" else "memory.oom_control"
        return Events(
            oom_kills=_field(memory / oom_file, "oom_kill") if memory is not None else 0,
            forks_refused=_field(pids / "pids.events", "max") if pids is not None else 0,
        )

    async def remove(self) -> None:
        """Kill whatever is still in the group (the sandbox killed its jails; this is for a process that got out
        of its jail's pid namespace's reach) and remove the group; a group still busy after a few seconds is
        left for `sweep`."""
        for directory in dict.fromkeys(self.directories.values()):
            await asyncio.to_thread(_kill_all_in, directory)
            await _remove_when_empty(directory)


class Spawner:
    """A thread of the service in a sandbox's cgroup v1 groups, from which the sandbox's commands are started.

    A process starts in the groups of the thread that forked it, so a command is in its sandbox's groups from
    its first instruction, and only this thread's move waits for the kernel: a write to `cgroup.procs` or
    `tasks` takes a lock whose first taker after a quiet spell waits one RCU grace period (about 10 ms here),
    now once per sandbox instead of once per command. The thread counts in `pids.max` (one more is allowed
    for it); the memory controller charges its process's memory elsewhere, and the OOM killer, which picks
    among processes, passes it over. v1 only: v2 keeps a process's threads in one group.
    """

    def __init__(self, group: SandboxGroup) -> None:
        self.group = group
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawner")

    def enter(self) -> None:
        """Start the thread and move it into the group; this waits for the kernel.

        Raises:
            OSError: It could not be moved (the thread is stopped; the sandbox must not run without it).
        """
        try:
            self.executor.submit(self.group.place_this_thread).result()
        except BaseException:
            self.executor.shutdown(wait=True)
            raise

    async def stop(self) -> None:
        """End the thread, and so take it out of the group: the group can then be emptied and removed."""
        await asyncio.to_thread(self.executor.shutdown, wait=True)


_spares = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cgroup-spares")
_spare: "Future[Spawner] | None" = None


async def take_spawner(tree: Tree) -> Spawner:
    """A `Spawner` in a new group without limits yet, for a sandbox to set its own and use.

    The one `make_spare` made ahead if there is one, so that a sandbox's start does not wait for the kernel
    either; else one made now.

    Raises:
        OSError: No group could be made or entered.
    """
    global _spare  # one spare per process, whatever the event loop
    spare, _spare = _spare, None
    if spare is not None:
        with contextlib.suppress(OSError):
            return await asyncio.wrap_future(spare)
    return await asyncio.to_thread(_make_spawner, tree)


def make_spare(tree: Tree) -> None:
    """Start making a `Spawner` for the next `take_spawner`, in the background, unless one is already there.

    A sandbox calls it once its own group is removed: not when it takes one, since a move into a group holds the
    kernel's cgroup lock while it waits, and the sandbox's first commands and its removal would wait with it. One
    spare per process at most; a service that stops leaves it for the next service's `sweep`, as any group.
    """
    global _spare
    if _spare is None:
        _spare = _spares.submit(_make_spawner, tree)


def _make_spawner(tree: Tree) -> Spawner:
    group = SandboxGroup(tree, group_name("sandbox"))
    group.make()
    spawner = Spawner(group)
    try:
        spawner.enter()
    except BaseException:
        group.remove_now()
        raise
    return spawner


def limit_notes(before: Events, after: Events, *, memory_mib: int, max_processes: int) -> list[str]:
    """What a command's error output ends with for each limit the kernel enforced while it ran."""
    notes: list[str] = []
    if after.oom_kills > before.oom_kills:
        notes.append(
            f"[killed: the sandbox went over its memory limit of {memory_mib} MiB (its processes and /tmp "
            f"together); the kernel killed {after.oom_kills - before.oom_kills} process(es)]"
        )
    if after.forks_refused > before.forks_refused:
        notes.append(f"[the sandbox reached its limit of {max_processes} processes: new ones were refused]")
    return notes


def _field(path: Path, name: str) -> int:
    """The value of `name` in a flat-keyed cgroup file (`oom_kill 2`), 0 if it is not there."""
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == name:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


async def _remove_when_empty(directory: Path) -> None:
    for _ in range(_REMOVE_ATTEMPTS):
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:  # EBUSY: processes of the killed sandbox are still being reaped
            await asyncio.sleep(0.1)


def group_name(sandbox: str) -> str:
    """The name of a new sandbox's group, under this service's directory."""
    return f"{sandbox}-{uuid.uuid4().hex[:8]}"


@functools.cache
def detect() -> Tree | None:
    """The cgroup tree this process can make sandbox groups in (made on the first call), or None."""
    return _v2() or _v1()


def enforcement() -> str:
    """What enforces sandboxes' memory, process and CPU limits in this process: cgroups, or rlimits only."""
    tree = detect()
    if tree is None:
        return "rlimits only (no writable cgroups: memory is limited per process, the CPU quota not at all)"
    return tree.description


def _mounts() -> list[tuple[str, Path, set[str]]]:
    """The cgroup file systems mounted here: (type, mount point, options)."""
    found: list[tuple[str, Path, set[str]]] = []
    with contextlib.suppress(OSError), open("/proc/self/mounts") as mounts:
        for line in mounts:
            _device, point, kind, options, *_ = line.split()
            if kind in ("cgroup", "cgroup2"):
                found.append((kind, Path(point), set(options.split(","))))
    return found


def _own_groups() -> dict[str, str]:
    """This process's group in each hierarchy: controller (`""` for v2) → path."""
    groups: dict[str, str] = {}
    with contextlib.suppress(OSError), open("/proc/self/cgroup") as lines:
        for line in lines:
            _number, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                groups[controller] = path
    return groups


def _v1() -> Tree | None:
    own = _own_groups()
    bases: dict[str, Path] = {}
    for kind, point, options in _mounts():
        for controller in CONTROLLERS:
            if kind == "cgroup" and controller in options and controller not in bases and controller in own:
                base = point / own[controller].lstrip("/") / "agentruns" / service_mark()
                try:
                    base.mkdir(parents=True, exist_ok=True)
                except OSError:
                    continue
                bases[controller] = base
    return Tree("v1", {name: bases[name] for name in CONTROLLERS if name in bases}) if bases else None


def _v2() -> Tree | None:
    """A delegated v2 tree: this process moves into a leaf of its own group, whose children get the controllers."""
    own = _own_groups().get("")
    unified = [point for kind, point, _ in _mounts() if kind == "cgroup2"]
    if own is None or not unified:
        return None
    group = unified[0] / own.lstrip("/")
    try:
        available = set((group / "cgroup.controllers").read_text().split())
        if not set(CONTROLLERS) <= available:
            return None
        # No process may sit in a group whose children get controllers: this service moves to a leaf first.
        leaf = group / f"agentruns-service-{service_mark()}"
        leaf.mkdir(exist_ok=True)
        (leaf / "cgroup.procs").write_text(f"{os.getpid()}\n")
        (group / "cgroup.subtree_control").write_text(" ".join(f"+{name}" for name in CONTROLLERS) + "\n")
        base = group / "agentruns" / service_mark()
        base.mkdir(parents=True, exist_ok=True)
        enable = " ".join(f"+{name}" for name in CONTROLLERS) + "\n"
        (group / "agentruns" / "cgroup.subtree_control").write_text(enable)
        (base / "cgroup.subtree_control").write_text(enable)
    except OSError:
        return None
    return Tree("v2", dict.fromkeys(CONTROLLERS, base))


def sweep(tree: Tree) -> list[Path]:
    """Kill what is left in the groups of services that are gone and remove those groups; the groups removed."""
    removed: list[Path] = []
    for base in dict.fromkeys(tree.bases.values()):
        services: list[Path] = list(base.parent.iterdir()) if base.parent.is_dir() else []
        for service in services:
            matched = _MARK.fullmatch(service.name)
            if not matched or service == base or service_alive(int(matched[1]), int(matched[2])):
                continue
            groups: list[Path] = [child for child in service.iterdir() if child.is_dir()]
            for group in [*groups, service]:
                _kill_all_in(group)
                with contextlib.suppress(OSError):
                    group.rmdir()
                    removed.append(group)
    return removed


def _kill_all_in(group: Path) -> None:
    for _ in range(3):
        try:
            pids = [int(pid) for pid in (group / "cgroup.procs").read_text().split()]
        except OSError:
            return
        if not pids:
            return
        for pid in pids:
            if pid == os.getpid():  # a `Spawner` thread still in the group: never the service itself
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
