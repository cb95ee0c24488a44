"""A hostile run against its workspace's disk limit: many files to slow the measure down, then a fast writer."""

import os

from agentruns.sandbox import jail_user
from agentruns.sandbox.usage import disk_bytes, measure
from tests.security.conftest import WORKSPACE_MIB, Target, bash, start_run, tool_outputs, wait_for_end

MIB = 1024 * 1024
FILES = 90_000  # below the default of 100,000 entries: the measure must walk them all, every time
CHUNK_MIB, PAUSE_SECONDS, CHUNKS = 8, 0.1, 200
FASTEST = CHUNK_MIB * MIB / PAUSE_SECONDS
"""The paced writer's highest rate: a chunk per pause, however fast the disk is (80 MiB/s)."""
ALLOWANCE_SECONDS = 10
"""How long after the workspace passes its limit the watch may take to end the writer: the bound's quiet interval
(2 s) and a measure (0.3-1.7 s of 90,000 files here), and room for a loaded machine."""

MANY_FILES = f'python3 -c \'import os; os.mkdir("many"); [open(f"many/{{n}}", "w").close() for n in range({FILES})]\''
PACED_WRITER = (
    f"for n in $(seq {CHUNKS}); do dd if=/dev/zero of=big$n bs=1M count={CHUNK_MIB} status=none || break; "
    f"sleep {PAUSE_SECONDS}; done"
)


def test_many_files_then_a_writer_overshoot_the_disk_limit_by_at_most_what_it_writes_in_the_bound(
    target: Target,
) -> None:
    # A writer paced to a known highest rate, so that what it may write in the bound does not depend on this disk's
    # speed (docs/sandboxes.md gives the overshoot of one writing as fast as it can).
    run_id = start_run(
        target, bash(MANY_FILES, timeout_seconds=110), bash(PACED_WRITER, timeout_seconds=110), "reply done"
    )
    details = wait_for_end(target, run_id, timeout=300)
    workspace = target.workspace_root / run_id
    used = disk_bytes(workspace)
    counted = measure(workspace, max_entries=10**6)

    writer = tool_outputs(details, "bash")[1]
    assert counted.entries > FILES
    assert "went over its disk limit of 64 MiB" in writer["stderr"], writer
    overshoot = used - WORKSPACE_MIB * MIB
    print(f"overshoot: {overshoot / MIB:.0f} MiB")
    assert overshoot <= FASTEST * ALLOWANCE_SECONDS, f"{overshoot / MIB:.0f} MiB over"
    assert used < CHUNKS * CHUNK_MIB * MIB / 2  # far from all it tried to write


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
