"""A hostile run against its workspace's disk limit: many files to slow the measure down, then a fast writer."""

import os
import time
from pathlib import Path

from agentruns.sandbox import jail_user
from agentruns.sandbox.disk_watch import QUIET_CHECK_SECONDS
from agentruns.sandbox.usage import disk_bytes, measure
from tests.security.conftest import WORKSPACE_MIB, Target, bash, start_run, tool_outputs, wait_for_end

MIB = 1024 * 1024
FILES = 90_000  # below the default of 100,000 entries: the measure must walk them all, every time
WRITE_MIB = 3072

MANY_FILES = f'python3 -c \'import os; os.mkdir("many"); [open(f"many/{{n}}", "w").close() for n in range({FILES})]\''
FAST_WRITER = (
    f"for n in $(seq 12); do dd if=/dev/zero of=big$n bs=1M count={WRITE_MIB // 12} status=none || break; done"
)


def _write_rate(directory: Path) -> float:
    """Bytes a second one process writes on the workspaces' file system here, now (256 MiB in 1 MiB writes)."""
    path = directory / "rate.bin"
    chunk = b"\0" * MIB
    began = time.monotonic()
    with open(path, "wb") as file:
        for _ in range(256):
            file.write(chunk)
    took = time.monotonic() - began
    path.unlink()
    return 256 * MIB / took


def test_many_files_then_a_fast_writer_overshoot_the_disk_limit_by_at_most_the_documented_bound(target: Target) -> None:
    run_id = start_run(
        target, bash(MANY_FILES, timeout_seconds=110), bash(FAST_WRITER, timeout_seconds=110), "reply done"
    )
    details = wait_for_end(target, run_id, timeout=300)
    workspace = target.workspace_root / run_id
    used = disk_bytes(workspace)
    began = time.monotonic()
    counted = measure(workspace, max_entries=10**6)
    one_measure = time.monotonic() - began
    rate = _write_rate(target.workspace_root)

    writer = tool_outputs(details, "bash")[1]
    assert counted.entries > FILES
    assert "went over its disk limit of 64 MiB" in writer["stderr"], writer
    overshoot = used - WORKSPACE_MIB * MIB
    # The documented bound: what the writer writes between the start of the last measure that found the workspace
    # within its limit and the next one's end: a quiet interval (or two measures) and a measure. (Usually far less:
    # one look at the file system triggers the next measure, unless space freed elsewhere on the file system at
    # the same time hides the growth.) Measured here and now (a loaded machine writes and measures slower alike),
    # with room for the two to vary between runs.
    bound = 1.5 * rate * (max(QUIET_CHECK_SECONDS, 2 * one_measure) + 2 * one_measure) + 16 * MIB
    figures = (
        f"{overshoot / MIB:.0f} MiB over; bound {bound / MIB:.0f} MiB: {rate / MIB:.0f} MiB/s, {one_measure:.2f} s"
    )
    print(f"overshoot: {figures}")  # the figures docs/sandboxes.md gives: pytest -s shows them
    assert overshoot <= bound, figures
    assert used < WRITE_MIB * MIB / 2  # far from all it tried to write


def test_more_entries_than_the_limit_kill_the_command(target: Target) -> None:
    command = 'python3 -c \'import os; os.mkdir("m"); [open(f"m/{n}", "w").close() for n in range(150000)]\''
    run_id = start_run(target, bash(command, timeout_seconds=110), "reply done")
    details = wait_for_end(target, run_id, timeout=200)

    output = tool_outputs(details, "bash")[0]
    assert "it holds more than 100000 files and directories" in output["stderr"], output
    workspace = target.workspace_root / run_id
    owner = jail_user.owner_of(workspace)
    assert owner == (65534, 65534) and os.stat(workspace).st_uid == 65534
    assert measure(workspace, max_entries=10**6).entries < 150_000
