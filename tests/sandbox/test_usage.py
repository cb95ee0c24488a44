"""A workspace's disk usage: blocks allocated, each file once, links not followed."""

import os
from pathlib import Path

from agentruns.sandbox.usage import disk_bytes

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
