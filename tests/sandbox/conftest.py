"""Fixtures: real sandboxes over workspaces in a directory their host user can reach."""

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
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


async def wait_until_gone(
    marker: str, *, seconds: float = 1, quiet: float = 0.3, look: Callable[[str], list[int]] = pids_running
) -> list[int]:
    """`look(marker)` (by default `pids_running`) once it has been empty for `quiet` seconds, or after `seconds`.

    One empty look is not enough: while a process executes a new program its command line reads empty
    (the new image's arguments are not set up yet), and under load that lasts long enough for a look to
    miss a process that is about to run.
    """
    deadline = time.monotonic() + seconds
    gone_since: float | None = None
    while True:
        now = time.monotonic()
        if look(marker):
            gone_since = None
        elif gone_since is None:
            gone_since = now
        if (gone_since is not None and now - gone_since >= quiet) or (gone_since is None and now >= deadline):
            return look(marker)
        await asyncio.sleep(0.02)


# A service of its own: it starts one sandbox command that runs for a long time, after saying it is about to.
_SERVICE = """
import asyncio, sys
from pathlib import Path
from agentruns.sandbox.protocol import SandboxLimits
from agentruns.sandbox.{module} import {cls} as Sandbox

async def main() -> None:
    sandbox = Sandbox(Path(sys.argv[1]), SandboxLimits(cpu=1, memory_mib=256))
    await sandbox.start()
    print("starting", flush=True)
    await sandbox.run(f"sleep {{sys.argv[2]}}; echo too late")

asyncio.run(main())
"""


def kill_a_service_while_it_starts_a_command(module: str, cls: str, workspace: Path, delay: float | None) -> str:
    """SIGKILL a real service process `delay` seconds after it begins to start a command (None: once it runs).

    Returns the unique `sleep` argument of the command: no process naming it may survive the service.
    """
    seconds = f"300.{int.from_bytes(os.urandom(3)):08d}"
    service = subprocess.Popen(
        [sys.executable, "-c", _SERVICE.format(module=module, cls=cls), str(workspace), seconds],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert service.stdout is not None
        assert service.stdout.readline() == "starting\n", "the service did not start its sandbox"
        if delay is None:
            deadline = time.monotonic() + 10
            while not commands_running(seconds):
                assert time.monotonic() < deadline, "the command did not start"
                time.sleep(0.01)
        else:
            time.sleep(delay)
    finally:
        service.kill()
        service.wait()
        if service.stdout is not None:
            service.stdout.close()
    return seconds


def commands_running(seconds: str) -> list[int]:
    """The pids of the test command `sleep SECONDS` itself (bubblewrap's and bash's command lines name it too)."""
    return [pid for pid in pids_running(seconds) if _argv(pid) == ["sleep", seconds]]


def _argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return []
