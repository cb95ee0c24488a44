"""The disk watch beside each command: what it takes as a command's baseline, and when it ends the command."""

import asyncio
import os
from pathlib import Path

import pytest

from agentruns.sandbox.disk_watch import OVER_GROWTH, DiskLimits, DiskWatch

MIB = 1024 * 1024


@pytest.mark.anyio
async def test_a_command_after_one_killed_for_the_disk_may_run_in_the_full_workspace_but_not_add_to_it(
    tmp_path: Path,
) -> None:
    workspace = tmp_path / "run_x"
    workspace.mkdir()
    for number in range(4):  # a directory each: a measure stops between directories
        (workspace / f"d{number}").mkdir()
        (workspace / f"d{number}" / "fill").write_bytes(b"x" * MIB)
    watch = DiskWatch(workspace, DiskLimits(max_mib=1, max_entries=1000), owner=None)
    # The killed command's last measure stopped as soon as it passed the limit: it counted only part of it.
    floor = await watch.measure(stop_above=MIB)
    assert not floor.whole and floor.bytes < 4 * MIB

    next_command = asyncio.ensure_future(watch.until_full())
    # Nothing is added: through a measure and the quiet interval after it, the watch does not end the command.
    done, _ = await asyncio.wait({next_command}, timeout=2.5)
    assert not done
    (workspace / "more").write_bytes(b"y" * MIB)

    reason = await asyncio.wait_for(next_command, timeout=30)
    assert "the workspace went over its disk limit of 1 MiB" in reason


@pytest.mark.anyio
async def test_a_workspace_over_its_entries_limit_may_not_grow_though_no_measure_can_count_it(tmp_path: Path) -> None:
    workspace = tmp_path / "run_x"
    workspace.mkdir()
    for number in range(200):
        (workspace / f"empty{number}").touch()
    watch = DiskWatch(workspace, DiskLimits(max_mib=64, max_entries=100), owner=None)
    assert (await watch.measure()).over is not None

    command = asyncio.ensure_future(watch.until_full())
    await asyncio.sleep(0.2)
    # A measure stops at 100 entries: it may never see this file grow.
    await asyncio.to_thread(_write_synced, workspace / "empty0", OVER_GROWTH[0] + 4 * MIB)

    reason = await asyncio.wait_for(command, timeout=30)
    assert "the workspace is over its limits (it holds more than 100 files and directories)" in reason


def _write_synced(path: Path, size: int) -> None:
    with open(path, "wb") as file:
        for _ in range(size // MIB):
            file.write(b"z" * MIB)
            file.flush()
            os.fsync(file.fileno())
