"""The development sandbox keeps the limits, time limits and cancellation, though it isolates nothing."""

import asyncio
import os
from pathlib import Path

import pytest

from agentruns.sandbox.errors import PathOutsideWorkspace
from agentruns.sandbox.protocol import SandboxLimits
from agentruns.sandbox.unisolated import SubprocessSandbox
from tests.sandbox.conftest import LIMITS, kill_a_service_while_it_starts_a_command, wait_until_gone, wait_until_running

pytestmark = pytest.mark.anyio


async def test_runs_commands_in_the_workspace_without_the_services_secrets(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTRUNS_TEST_SECRET", "do-not-leak")
    sandbox = SubprocessSandbox(workspace, LIMITS)
    await sandbox.start()

    result = await sandbox.run("pwd; env; echo made > made.txt")

    assert result.stdout.startswith(f"{workspace}\n")
    assert "do-not-leak" not in result.stdout
    assert (sandbox.provider, sandbox.runtime_id, sandbox.state) == ("unisolated", "run_test", "running")
    assert await sandbox.read_file("/workspace/made.txt") == b"made\n"
    with pytest.raises(PathOutsideWorkspace):
        await sandbox.read_file("../outside")
    await sandbox.stop()
    assert sandbox.state == "ended"


async def test_limits_apply(workspace: Path) -> None:
    sandbox = SubprocessSandbox(workspace, SandboxLimits(cpu=1, memory_mib=256, max_file_mib=4, output_chars=10))
    await sandbox.start()

    big = await sandbox.run("dd if=/dev/zero of=big bs=1M count=8 2>&1 | head -c 10 >&2; echo $(ulimit -d)")
    memory = await sandbox.run("python3 -c 'bytearray(512 * 1024 * 1024)' 2>&1 | tail -1")

    assert big.stdout == str(256 * 1024) + "\n"
    assert (workspace / "big").stat().st_size == 4 * 1024 * 1024
    assert memory.stdout == "MemoryErro\n[output cut: 2 more characters not shown]"


async def test_time_limit_and_cancellation_kill_the_command(workspace: Path) -> None:
    sandbox = SubprocessSandbox(workspace, LIMITS)
    await sandbox.start()

    timed_out = await sandbox.run("sleep 60 & sleep 60", timeout_seconds=0.5)
    assert (timed_out.timed_out, timed_out.exit_code) == (True, None)

    seconds = f"{70 + os.getpid() % 1000 / 1000:.3f}"
    task = asyncio.create_task(sandbox.run(f"sleep {seconds}"))
    await wait_until_running(seconds)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await wait_until_gone(seconds) == []


@pytest.mark.parametrize("delay", [0, 0.005, 0.01, 0.02, None])
async def test_a_command_dies_with_its_service_whenever_the_service_dies(workspace: Path, delay: float | None) -> None:
    seconds = kill_a_service_while_it_starts_a_command("unisolated", "SubprocessSandbox", workspace, delay)

    assert await wait_until_gone(seconds, seconds=5) == [], "a process of the command outlived its service"
