"""Deleting a workspace: all it holds, however its run left it, and nothing outside it."""

import os
from pathlib import Path

import pytest

from agentruns.sandbox.root import make_workspace, remove
from agentruns.sandbox.usage import MAX_DEPTH
from tests.support.workspaces import hand_over, reachable_directory

pytestmark = pytest.mark.anyio


async def test_a_workspace_closed_nested_and_linked_outside_is_deleted_and_nothing_outside() -> None:
    with reachable_directory() as base:
        outside = base / "outside"
        outside.mkdir()
        (outside / "keep.txt").write_text("keep")
        workspace = base / "run_x"
        make_workspace(workspace, (65534, 65534) if os.geteuid() == 0 else None)
        deep = workspace
        for level in range(MAX_DEPTH + 40):  # deeper than one pass goes
            deep = deep / f"{level % 10}"
        os.makedirs(deep)
        (deep / "bottom.txt").write_text("x")
        (workspace / "link").symlink_to(outside)
        (workspace / "closed" / "inner").mkdir(parents=True)
        (workspace / "closed" / "inner" / "f").write_text("x")
        hand_over(workspace)
        os.chmod(workspace / "closed" / "inner", 0)
        os.chmod(workspace / "closed", 0o500)
        os.chmod(workspace, 0)

        await remove(workspace)

        assert not workspace.exists()
        assert (outside / "keep.txt").read_text() == "keep"


async def test_removing_a_missing_workspace_does_nothing(tmp_path: Path) -> None:
    await remove(tmp_path / "run_gone")
