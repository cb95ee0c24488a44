"""A process that times sandbox starts with whichever `agentruns` its path gives it: one request a line, one answer.

`bench.sandbox` starts one for this tree and one for a baseline tree (PYTHONPATH=<tree>/src), and asks them in
turn, so that both see the same load. It imports nothing but `agentruns` and the standard library, and uses only
what both trees have; a diagnostic a tree lacks answers `n/a`. Request: `VARIANT NUMBER`; answer: `MS CPU_MS` (the
wall time, and the CPU time of this process and its reaped children), `n/a`, or `error: …`.
"""

import asyncio
import inspect
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import agentruns
from agentruns.sandbox.availability import make_sandbox
from agentruns.sandbox.bubblewrap import BubblewrapSandbox, bwrap_argv, host_user
from agentruns.sandbox.etc import prepared_etc
from agentruns.sandbox.protocol import SandboxLimits

try:  # what the baseline (4e93d2e) lacks
    from agentruns.sandbox import cgroups
except ImportError:
    cgroups = None
try:
    from agentruns.sandbox import seccomp
except ImportError:
    seccomp = None

LIMITS = SandboxLimits(cpu=1, memory_mib=1024)  # an agent's default size, the deployment's other defaults
# No network: `network=False` up to the egress proxy, `network=None` (no `NetworkAccess`) since.
NO_NETWORK: Any = None if "egress" in inspect.signature(BubblewrapSandbox).parameters else False
ARGV_NO_NETWORK: dict[str, Any] = {"network": False} if "network" in inspect.signature(bwrap_argv).parameters else {}


class Timer:
    """The variants, over workspaces under `directory` (which the sandbox's host user can reach)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.long: dict[str, Any] = {}
        self.group: Any = None
        self.child: asyncio.subprocess.Process | None = None

    def workspace(self, kind: str, number: int) -> Path:
        return self.directory / kind / f"run_{number:06d}"

    async def open(self) -> str:
        """Start the long-lived sandboxes; a line that says which code this is and what it applies."""
        for kind in ("run true", "no filter", "no cgroup"):
            sandbox = BubblewrapSandbox(self.workspace(kind.replace(" ", "-"), 0), LIMITS)
            await sandbox.start()
            self.long[kind] = sandbox
        if seccomp is not None:
            self.long["no filter"]._filter = seccomp.Filter(None, "the benchmark's diagnostic")
        no_cgroup = self.long["no cgroup"]
        if getattr(no_cgroup, "_spawner", None) is not None:
            await no_cgroup._spawner.stop()
            no_cgroup._spawner = None
        if getattr(no_cgroup, "_group", None) is not None:
            await no_cgroup._group.remove()
            no_cgroup._group = None
        self.child = await asyncio.create_subprocess_exec("sleep", "100000")
        applied = [] if seccomp is None else [seccomp.status().description]
        applied.append("no cgroups" if cgroups is None else cgroups.enforcement())
        return f"ready {Path(agentruns.__file__).parent}: {'; '.join(applied)}"

    async def close(self) -> None:
        for sandbox in self.long.values():
            await sandbox.stop()
        if self.child is not None:
            self.child.kill()
            await self.child.wait()

    async def time(self, variant: str, number: int) -> str:
        """Run one variant once; its answer line."""
        action = self._actions().get(variant)
        if action is None:
            return "n/a"
        cpu_before, began = _cpu_seconds(), time.perf_counter()
        if await action(number) is False:
            return "n/a"
        elapsed, cpu = (time.perf_counter() - began) * 1000, (_cpu_seconds() - cpu_before) * 1000
        return f"{elapsed:.4f} {cpu:.4f}"

    def _actions(self) -> dict[str, Any]:
        return {
            "bare true": self.bare_true,
            "start+true": self.start_and_true,
            "start": self.start_only,
            "run true": lambda _: self.run_true("run true"),
            "run true, no filter": lambda _: self.run_true("no filter", needs=seccomp),
            "run true, no cgroup": lambda _: self.run_true("no cgroup", needs=cgroups),
            "bwrap true": self.bwrap_true,
            "cgroup create": self.cgroup_create,
            "cgroup place": self.cgroup_place,
            "cgroup remove": self.cgroup_remove,
        }

    async def bare_true(self, _: int) -> None:
        process = await asyncio.create_subprocess_exec("true")
        if await process.wait() != 0:
            raise RuntimeError("`true` failed")

    async def start_and_true(self, number: int) -> None:
        sandbox = make_sandbox(self.workspace("start-true", number), LIMITS, allow_unisolated=False, network=NO_NETWORK)
        await sandbox.start()
        result = await sandbox.run("true")
        await sandbox.stop()
        if result.exit_code != 0:
            raise RuntimeError(f"`true` ended with {result.exit_code}: {result.stderr}")

    async def start_only(self, number: int) -> None:
        sandbox = make_sandbox(self.workspace("start", number), LIMITS, allow_unisolated=False, network=NO_NETWORK)
        await sandbox.start()
        await sandbox.stop()

    async def run_true(self, kind: str, needs: object = True) -> bool:
        if needs is None:
            return False
        result = await self.long[kind].run("true")
        if result.exit_code != 0:
            raise RuntimeError(f"`true` ended with {result.exit_code}: {result.stderr}")
        return True

    async def bwrap_true(self, _: int) -> None:
        """bubblewrap with the jail's command line (and filter, where there is one) running `true` itself."""
        sandbox = self.long["run true"]
        etc = prepared_etc(sandbox.workspace.parent, network=False)
        info_fd = os.memfd_create("bwrap-info")
        fds = [info_fd]
        extra: dict[str, Any] = {}
        program = seccomp.status().program if seccomp is not None else None
        if program is not None and seccomp is not None:
            extra["seccomp_fd"] = seccomp.program_fd(program)
            fds.append(extra["seccomp_fd"])
        owner = host_user()
        uid, gid = owner if owner is not None else (None, None)
        argv = bwrap_argv(shutil.which("bwrap") or "bwrap", sandbox.workspace, LIMITS, etc=etc, info_fd=info_fd,
                          command=["true"], **ARGV_NO_NETWORK, **extra)  # fmt: skip
        try:
            process = await asyncio.create_subprocess_exec(
                *argv, pass_fds=fds, env={"PATH": os.defpath}, user=uid, group=gid,
                extra_groups=[] if owner is not None else None,
            )  # fmt: skip
            code = await process.wait()
        finally:
            for fd in fds:
                os.close(fd)
        if code != 0:
            raise RuntimeError(f"bwrap … true ended with {code}")

    async def cgroup_create(self, number: int) -> bool:
        tree = cgroups.detect() if cgroups is not None else None
        if tree is None or cgroups is None:
            return False
        self.group = cgroups.SandboxGroup(tree, f"bench-{number}")
        self.group.create(memory_mib=LIMITS.memory_mib, max_processes=LIMITS.max_processes, cpu=LIMITS.cpu)
        return True

    async def cgroup_place(self, _: int) -> bool:
        if self.group is None or self.child is None:
            return False
        self.group.place(self.child.pid)
        return True

    async def cgroup_remove(self, _: int) -> bool:
        """Move the process back to this service's own groups (as its death would take it out), remove the group."""
        if self.group is None or self.child is None:
            return False
        for directory in dict.fromkeys(self.group.directories.values()):
            (directory.parent.parent.parent / "cgroup.procs").write_text(f"{self.child.pid}\n")
        await self.group.remove()
        self.group = None
        return True


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def serve(directory: Path) -> None:
    """Answer requests from stdin until it ends."""
    timer = Timer(directory)
    print(await timer.open(), flush=True)
    loop = asyncio.get_running_loop()
    try:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            variant, _, number = line.strip().rpartition(" ")
            try:
                answer = await timer.time(variant, int(number))
            except Exception as exc:  # the parent shows it
                answer = f"error: {exc!r}"
            print(answer, flush=True)
    finally:
        await timer.close()


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1])))
