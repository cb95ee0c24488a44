"""A workspace's disk usage: blocks allocated, each file once, links not followed."""

import os
import stat
from pathlib import Path

import pytest

from agentruns.sandbox import jail_user
from agentruns.sandbox.usage import MAX_DEPTH, disk_bytes, measure
from tests.support.workspaces import hand_over, reachable_directory

MIB = 1024 * 1024


def test_counts_allocated_blocks_once_per_file_and_never_what_a_symlink_points_to(tmp_path: Path) -> None:
    workspace = tmp_path / "run_x"
    (workspace / "deep" / "er").mkdir(parents=True)
    (workspace / "deep" / "er" / "two.bin").write_bytes(b"x" * 2 * MIB)
    os.link(workspace / "deep" / "er" / "two.bin", workspace / "same.bin")  # a hard link: the same blocks
    with open(workspace / "sparse.bin", "wb") as sparse:  # 1 GiB long, nothing written: no blocks
        sparse.truncate(1024 * MIB)
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"y" * 4 * MIB)
    (workspace / "link").symlink_to(outside)
    (workspace / "dir-link").symlink_to(tmp_path)

    used = disk_bytes(workspace)

    assert 2 * MIB <= used < 3 * MIB  # two MiB of data, directories' and links' own blocks


def test_a_missing_workspace_takes_nothing(tmp_path: Path) -> None:
    assert disk_bytes(tmp_path / "never-made") == 0


@pytest.mark.anyio
async def test_what_a_run_hid_in_a_directory_closed_to_itself_is_counted_and_the_mode_is_left_alone() -> None:
    with reachable_directory() as base:
        workspace = base / "run_x"
        (workspace / "hidden" / "deeper").mkdir(parents=True)
        (workspace / "hidden" / "deeper" / "big.bin").write_bytes(b"x" * 4 * MIB)
        hand_over(workspace)
        os.chmod(workspace / "hidden" / "deeper", 0)
        os.chmod(workspace / "hidden", 0)
        owner = jail_user.owner_of(workspace)

        used = await jail_user.call_reading_directories(owner, measure, workspace, max_entries=100)

        assert used.bytes >= 4 * MIB and used.over is None
        assert stat.S_IMODE(os.stat(workspace / "hidden").st_mode) == 0


def test_the_measure_stops_at_its_entry_and_depth_limits(tmp_path: Path) -> None:
    workspace = tmp_path / "run_x"
    workspace.mkdir()
    for number in range(50):
        (workspace / f"f{number}").touch()
    deep = workspace / "/".join(["d"] * (MAX_DEPTH + 1))
    deep.mkdir(parents=True)

    assert measure(workspace, max_entries=40).over == "it holds more than 40 files and directories"
    assert measure(workspace, max_entries=10_000).over == f"its directories nest more than {MAX_DEPTH} levels deep"
    assert measure(workspace, max_entries=10_000).entries < 50 + MAX_DEPTH + 1 + 1
