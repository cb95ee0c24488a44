"""The disk watch of a workspace: a command after one killed for the disk may run, to delete files."""

import asyncio
from pathlib import Path

import pytest

from agentruns.sandbox.disk_watch import DiskLimits, DiskWatch
from agentruns.sandbox.usage import Usage

pytestmark = pytest.mark.anyio
MIB = 1024 * 1024


async def test_the_baseline_after_a_measure_that_stopped_at_the_limit_is_a_whole_measure(tmp_path: Path) -> None:
    for number in range(4):
        (tmp_path / f"fill{number}").write_bytes(b"\1" * MIB)
    watch = DiskWatch(tmp_path, DiskLimits(max_mib=1, max_entries=100), None)
    # What the killing measure of the command before counted: past the limit, short of what the workspace holds.
    watch.last = Usage(bytes=2 * MIB, entries=2)

    with pytest.raises(TimeoutError):  # nothing is added now: the watch must not end the next command
        async with asyncio.timeout(0.5):
            await watch.until_full()

    assert watch.last is not None and watch.last.bytes >= 4 * MIB
