"""A cgroup per sandbox: made with its limits, joined by every command's jail, removed with the sandbox."""

import asyncio
import os
import subprocess
import time
from pathlib import Path

import pytest

from agentruns.sandbox import cgroups
from agentruns.sandbox.bubblewrap import BubblewrapSandbox
from agentruns.sandbox.protocol import SandboxLimits

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(cgroups.detect() is None, reason="no writable cgroups here (the rlimits alone apply)"),
]


def _group_files(sandbox: BubblewrapSandbox) -> dict[str, Path]:
    group = sandbox._group
    assert group is not None
    return group.directories


async def test_every_command_runs_in_its_sandbox_s_group_with_its_limits(workspace: Path) -> None:
    sandbox = BubblewrapSandbox(workspace, SandboxLimits(cpu=1, memory_mib=300, max_processes=40))
    await sandbox.start()
    try:
        directories = _group_files(sandbox)
        started = await sandbox.run("sleep 2 & cat /proc/self/cgroup; wait")
        tree = cgroups.detect()
        assert tree is not None
        if tree.version == "v1":
            assert (directories["memory"] / "memory.limit_in_bytes").read_text() == f"{300 * 1024 * 1024}\n"
            assert (directories["pids"] / "pids.max").read_text() == "41\n"  # 40 and the spawner thread
            assert (directories["cpu"] / "cpu.cfs_quota_us").read_text() == "100000\n"
        members = (directories["pids"] / "cgroup.procs").read_text().split()
    finally:
        await sandbox.stop()

    assert started.exit_code == 0
    # The jail's cgroup namespace was made in the group: bubblewrap itself started in it.
    assert {line.split(":", 2)[1]: line.split(":", 2)[2] for line in started.stdout.splitlines()}["memory"] == "/"
    assert set(members) <= {str(os.getpid())}, members  # nothing of the command is left in it (the spawner is ours)
    assert not any(directory.exists() for directory in directories.values())  # removed with the sandbox


async def test_the_groups_of_a_service_that_is_gone_are_swept_and_ours_are_not() -> None:
    tree = cgroups.detect()
    assert tree is not None
    dead = {name: base.parent / f"{1 << 22}-1" / "run_x-0" for name, base in tree.bases.items()}
    for directory in dead.values():
        directory.mkdir(parents=True)
    ours = cgroups.SandboxGroup(tree, cgroups.group_name("run_ours"))
    ours.create(memory_mib=64, max_processes=16, cpu=1)
    try:
        removed = cgroups.sweep(tree)

        assert all(not directory.parent.exists() for directory in dead.values()), removed
        assert all(directory.exists() for directory in ours.directories.values())
    finally:
        await ours.remove()


def test_a_group_s_cpu_quota_is_held_by_the_kernel() -> None:
    tree = cgroups.detect()
    assert tree is not None and "cpu" in tree.bases
    group = cgroups.SandboxGroup(tree, cgroups.group_name("run_cpu"))
    group.create(memory_mib=64, max_processes=16, cpu=0.05)  # 5 ms a period: any busy loop is held back
    busy = subprocess.Popen(["sh", "-c", "while :; do :; done"])
    try:
        group.place(busy.pid)
        time.sleep(1)
        throttled = cgroups._field(group.directories["cpu"] / "cpu.stat", "nr_throttled")
    finally:
        busy.kill()
        busy.wait()
        asyncio.run(group.remove())

    assert throttled > 0
