"""Fixtures: real sandboxes over workspaces in a directory their host user can reach."""

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agentruns.sandbox.bubblewrap import BubblewrapSandbox
from agentruns.sandbox.protocol import SandboxLimits

LIMITS = SandboxLimits(cpu=1, memory_mib=256, max_processes=64, max_file_mib=8, command_timeout_seconds=20)


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio, as the service does."""
    return "asyncio"


@pytest.fixture
def workspace() -> Iterator[Path]:
    """A fresh workspace path (not created yet) whose parents `nobody` can traverse.

    pytest's own tmp_path is under a 0700 directory of root, which bubblewrap running as `nobody` cannot
    reach, so these live in a directory of their own.
    """
    base = Path(tempfile.mkdtemp(prefix="agentruns-sandbox-test-"))
    os.chmod(base, 0o711)  # noqa: S103 - the sandbox's host user must traverse it
    yield base / "run_test"
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def sandbox(workspace: Path) -> AsyncIterator[BubblewrapSandbox]:
    """A started bubblewrap sandbox with small limits, stopped after the test."""
    started = BubblewrapSandbox(workspace, LIMITS)
    await started.start()
    yield started
    await started.stop()


def pids_running(marker: str) -> list[int]:
    """Host pids of the processes whose command line contains `marker`."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(entry.name))
    return found


async def wait_until_running(marker: str, *, seconds: float = 10) -> list[int]:
    """The pids of `pids_running(marker)` once there are some; fails after `seconds`."""
    for _ in range(round(seconds / 0.02)):
        if pids := pids_running(marker):
            return pids
        await asyncio.sleep(0.02)
    raise AssertionError(f"nothing with {marker!r} in its command line started")


async def wait_until_gone(marker: str, *, seconds: float = 1) -> list[int]:
    """`pids_running(marker)` once it is empty, or after `seconds`."""
    for _ in range(round(seconds / 0.02)):
        if not pids_running(marker):
            break
        await asyncio.sleep(0.02)
    return pids_running(marker)
