"""The bubblewrap sandbox runs real commands and contains every escape attempt of the sandbox issue."""

import asyncio
import errno
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from agentruns.sandbox.bubblewrap import HOST_UID, BubblewrapSandbox, bwrap_argv
from agentruns.sandbox.errors import PathOutsideWorkspace, SandboxError
from agentruns.sandbox.etc import prepared_etc
from agentruns.sandbox.orphans import kill_orphaned_jails
from agentruns.sandbox.protocol import SandboxLimits
from agentruns.sandbox.root import make_workspace
from tests.sandbox.conftest import (
    LIMITS,
    commands_running,
    kill_a_service_while_it_starts_a_command,
    pids_running,
    wait_until_gone,
    wait_until_running,
)

pytestmark = pytest.mark.anyio

PROJECT_FILE = Path(__file__).resolve().parents[2] / "pyproject.toml"
AS_ROOT = os.geteuid() == 0


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP server on the host's 127.0.0.1 that nothing in a sandbox without network may reach."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0)
        yield server


def marker() -> str:
    """A token to find a test's processes by their command line."""
    return f"agentruns-test-{uuid.uuid4().hex[:12]}"


async def test_runs_a_command_as_an_unprivileged_user_in_the_workspace(sandbox: BubblewrapSandbox) -> None:
    result = await sandbox.run("pwd; id -u; echo hello > greeting.txt; echo oops >&2; exit 3")

    assert (result.exit_code, result.stdout, result.stderr) == (3, "/workspace\n1000\n", "oops\n")
    assert not result.timed_out
    assert (sandbox.workspace / "greeting.txt").read_text() == "hello\n"
    if AS_ROOT:  # the jail's uid 1000 is `nobody` on the host, never root
        assert (sandbox.workspace / "greeting.txt").stat().st_uid == HOST_UID
    capabilities = await sandbox.run("grep CapEff /proc/self/status")
    assert capabilities.stdout.split() == ["CapEff:", "0000000000000000"]


async def test_shows_the_runtime(sandbox: BubblewrapSandbox, workspace: Path) -> None:
    assert (sandbox.provider, sandbox.runtime_id, sandbox.workspace) == ("bubblewrap", "run_test", workspace)
    assert sandbox.state == "running"
    await sandbox.stop()
    assert sandbox.state == "ended"
    with pytest.raises(SandboxError, match="ended"):
        await sandbox.run("true")


async def test_the_workspace_persists_between_commands_and_tmp_does_not(sandbox: BubblewrapSandbox) -> None:
    await sandbox.run("echo kept > kept.txt; echo gone > /tmp/gone.txt")

    result = await sandbox.run("cat kept.txt; cat /tmp/gone.txt")

    assert result.stdout == "kept\n"
    assert "No such file" in result.stderr


async def test_host_and_project_files_are_not_there(sandbox: BubblewrapSandbox) -> None:
    assert PROJECT_FILE.exists()
    hidden = ["/etc/shadow", str(PROJECT_FILE), str(PROJECT_FILE.parent), "/root", "/home", "/var", "/opt"]

    result = await sandbox.run("; ".join(f"ls {path}" for path in hidden))

    assert result.stdout == ""
    assert result.stderr.count("No such file or directory") == len(hidden)
    etc = await sandbox.run("ls /etc; cat /etc/hostname")
    assert "shadow" not in etc.stdout.split()
    assert set(etc.stdout.split()) >= {"passwd", "group", "hosts", "ld.so.cache", "sandbox"}
    processes = await sandbox.run("ls /proc | grep -c '^[0-9]'")
    assert int(processes.stdout) <= 5  # its own pid namespace: none of the host's processes


async def test_writes_outside_the_workspace_fail(sandbox: BubblewrapSandbox) -> None:
    name = marker()
    targets = ["/escape", "/etc/escape", "/usr/escape", "/usr/bin/escape", "/dev/escape", "/proc/escape"]
    result = await sandbox.run("; ".join(f"touch {target}" for target in targets) + f"; touch /tmp/{name}")

    assert result.stderr.count("touch: cannot touch") == len(targets)
    assert not Path("/tmp", name).exists()  # the jail's /tmp is its own
    assert not any(Path(target).exists() for target in targets)


async def test_no_network_by_default(sandbox: BubblewrapSandbox, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    connect = "exec 3<>/dev/tcp/{}/{} && echo connected {}"
    result = await sandbox.run(
        "; ".join(connect.format(host, port, host) for host, port in
                  [("127.0.0.1", port), ("127.0.0.1", 5432), ("1.1.1.1", 443)])
    )  # fmt: skip

    assert "connected" not in result.stdout
    assert f"/dev/tcp/127.0.0.1/{port}: Connection refused" in result.stderr  # its own loopback
    assert "/dev/tcp/127.0.0.1/5432: Connection refused" in result.stderr
    assert "/dev/tcp/1.1.1.1/443: Network is unreachable" in result.stderr
    with pytest.raises(BlockingIOError):
        listener.accept()


async def test_kill_all_inside_kills_nothing_outside(sandbox: BubblewrapSandbox) -> None:
    # The canary runs as the jail's host user: even its own processes outside are out of reach.
    user = HOST_UID if AS_ROOT else None
    canary = await asyncio.create_subprocess_exec("sleep", "60", user=user, group=user)
    try:
        result = await sandbox.run("sleep 30 & kill -9 -1; echo still here")

        assert result.exit_code == 0
        assert result.stdout == "still here\n"
        assert canary.returncode is None
        assert Path(f"/proc/{canary.pid}").exists()
    finally:
        canary.kill()
        await canary.wait()


async def test_a_fork_bomb_is_contained(sandbox: BubblewrapSandbox) -> None:
    name = marker()
    began = time.monotonic()

    result = await sandbox.run(f": {name}; bomb() {{ bomb | bomb & }}; bomb; sleep 30", timeout_seconds=3)

    assert result.timed_out
    assert time.monotonic() - began < 10
    assert "Resource temporarily unavailable" in result.stderr  # the process limit holds
    assert await wait_until_gone(name, seconds=5) == []  # killed at once; reaped within moments, even under load
    host = await asyncio.create_subprocess_exec("true")  # the host still forks
    assert await host.wait() == 0
    assert (await sandbox.run("echo fine")).stdout == "fine\n"


async def test_the_process_limit_counts_each_sandbox_alone(workspace: Path) -> None:
    sandboxes = [BubblewrapSandbox(workspace.parent / name, LIMITS) for name in ("run_a", "run_b", "run_c")]
    for sandbox in sandboxes:
        await sandbox.start()
    # 3 × 40 processes of the same host user at once: over one sandbox's limit of 64, within each one's.
    spawn = "for i in $(seq 40); do sleep 1 & done; wait; echo done"

    results = await asyncio.gather(*(sandbox.run(spawn) for sandbox in sandboxes))

    assert [(result.stdout, result.stderr) for result in results] == [("done\n", "")] * 3
    for sandbox in sandboxes:
        await sandbox.stop()


async def test_sandbox_processes_are_the_oom_killers_first_choice(sandbox: BubblewrapSandbox) -> None:
    result = await sandbox.run("cat /proc/self/oom_score_adj; echo -1 > /proc/self/oom_score_adj")

    assert result.stdout == "1000\n"
    assert "Permission denied" in result.stderr  # it may go back to the default 0, never below


async def test_a_file_beyond_the_size_limit_cannot_be_written(sandbox: BubblewrapSandbox) -> None:
    count = LIMITS.max_file_mib + 4
    result = await sandbox.run(f"dd if=/dev/zero of=big bs=1M count={count}; head -c 1M /dev/zero > small")

    assert "File too large" in result.stderr
    assert (sandbox.workspace / "big").stat().st_size == LIMITS.max_file_mib * 1024 * 1024
    assert (sandbox.workspace / "small").stat().st_size == 1024 * 1024  # the command went on


async def test_filling_the_workspace_beyond_its_disk_limit_kills_the_command(workspace: Path) -> None:
    sandbox = BubblewrapSandbox(workspace, replace(LIMITS, max_workspace_mib=16))
    await sandbox.start()
    try:
        # Files under the size limit each, without end: only the workspace's limit stops it.
        fill = "i=0; while :; do i=$((i+1)); head -c 1M /dev/zero > fill$i || exit 3; done"
        filled = await sandbox.run(fill)
        refused = await asyncio.gather(sandbox.write_file("more.txt", b"x" * 1024), return_exceptions=True)
        cleaned = await sandbox.run("rm fill*; echo room again > notes.txt; cat notes.txt")
    finally:
        await sandbox.stop()

    assert not filled.timed_out and filled.exit_code == 137
    assert filled.stderr.endswith("[killed: the workspace went over its disk limit of 16 MiB: delete files to go on]")
    assert isinstance(refused[0], OSError) and "disk limit of 16 MiB" in str(refused[0])
    assert cleaned.stdout == "room again\n"


async def test_memory_beyond_the_limit_cannot_be_allocated(sandbox: BubblewrapSandbox) -> None:
    allocate = "python3 -c 'bytearray({} * 1024 * 1024); print(\"allocated\")'"

    over = await sandbox.run(allocate.format(LIMITS.memory_mib + 64))
    under = await sandbox.run(allocate.format(LIMITS.memory_mib // 4))

    assert over.exit_code == 1
    assert "MemoryError" in over.stderr
    assert under.stdout == "allocated\n"


async def test_a_command_beyond_its_time_limit_is_killed_with_all_it_started(sandbox: BubblewrapSandbox) -> None:
    name = marker()
    began = time.monotonic()

    result = await sandbox.run(f"sleep 60 & echo {name}; sleep 60", timeout_seconds=1)

    assert result.timed_out
    assert result.exit_code is None
    assert result.stdout == f"{name}\n"
    assert "time limit of 1 s" in result.stderr
    assert 1000 <= result.duration_ms < 5000
    assert time.monotonic() - began < 5
    assert await wait_until_gone(name, seconds=5) == []  # killed at once; reaped within moments, even under load


async def test_background_processes_do_not_outlive_their_command(sandbox: BubblewrapSandbox) -> None:
    name = marker()

    result = await sandbox.run(f"(setsid sleep 60 > /dev/null 2>&1 &); echo {name}")

    assert result.stdout == f"{name}\n"
    assert result.duration_ms < 5000
    assert await wait_until_gone(name, seconds=5) == []  # killed at once; reaped within moments, even under load


TAKEOVER = Path(__file__).resolve().parents[1] / "support" / "jail_takeover.py"


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the takeover script speaks x86_64's registers")
async def test_a_command_that_takes_over_its_jails_init_does_not_outlive_its_command_or_its_sandbox(
    sandbox: BubblewrapSandbox,
) -> None:
    # Where ptrace is refused (seccomp) the takeover fails at once; where it is not, the service's kill of the
    # namespace's init from outside still ends it, and the end of the sandbox empties its cgroup.
    name = marker()
    await sandbox.write_file("takeover.py", TAKEOVER.read_bytes())

    await sandbox.run(f"python3 takeover.py 'while :; do echo {name} > /dev/null; sleep 0.2; done'", timeout_seconds=3)
    await sandbox.stop()

    assert await wait_until_gone(name, seconds=5) == []


async def test_cancelling_the_caller_kills_the_command(sandbox: BubblewrapSandbox) -> None:
    seconds = f"{60 + uuid.uuid4().int % 1000 / 1000:.3f}"  # the sleep's own command line is `sleep <seconds>`
    task = asyncio.create_task(sandbox.run(f"sleep {seconds}"))
    pids: list[int] = []
    for _ in range(500):  # bubblewrap's own processes have it in their command line too; wait for the sleep
        if pids := [pid for pid in pids_running(seconds) if _argv(pid) == ["sleep", seconds]]:
            break
        await asyncio.sleep(0.02)
    assert len(pids) == 1

    began = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert time.monotonic() - began < 1
    assert not Path(f"/proc/{pids[0]}").exists()
    assert pids_running(seconds) == []


async def test_stop_kills_running_commands(sandbox: BubblewrapSandbox) -> None:
    name = marker()
    task = asyncio.create_task(sandbox.run(f"echo {name}; sleep 60"))
    await wait_until_running(name)

    await sandbox.stop()

    assert (await task).exit_code == 137
    assert await wait_until_gone(name, seconds=5) == []  # killed at once; reaped within moments, even under load


async def test_output_is_capped_with_a_note(workspace: Path) -> None:
    sandbox = BubblewrapSandbox(workspace, SandboxLimits(cpu=1, memory_mib=256, output_chars=1000))
    await sandbox.start()

    result = await sandbox.run("head -c 5000000 /dev/zero | tr '\\0' a; printf 'é%.0s' $(seq 1200) >&2")

    assert result.stdout == "a" * 1000 + "\n[output cut: 4999000 more characters not shown]"
    assert result.stderr == "é" * 1000 + "\n[output cut: 200 more characters not shown]"
    await sandbox.stop()


async def test_files_round_trip_between_the_service_and_commands(sandbox: BubblewrapSandbox) -> None:
    await sandbox.write_file("notes/today.txt", b"from the service\n")

    result = await sandbox.run("cat /workspace/notes/today.txt; echo from the command >> notes/today.txt")

    assert result.stdout == "from the service\n"
    assert result.stderr == ""  # the command may change what the service wrote
    assert await sandbox.read_file("/workspace/notes/today.txt") == b"from the service\nfrom the command\n"
    assert await sandbox.read_file("./notes/../notes/today.txt") == b"from the service\nfrom the command\n"


async def test_special_files_are_not_read_or_written(sandbox: BubblewrapSandbox) -> None:
    await sandbox.run("mkfifo fifo; mkdir directory")

    for path in ("fifo", "directory"):
        with pytest.raises(OSError, match=rf"'{path}': (Not a regular file|Is a directory)$"):
            await asyncio.wait_for(sandbox.read_file(path), 5)
        with pytest.raises(OSError, match=rf"'{path}': (Not a regular file|Is a directory|No such device)"):
            await asyncio.wait_for(sandbox.write_file(path, b"x"), 5)
    with pytest.raises(FileNotFoundError, match=r"'missing.txt': No such file or directory$"):
        await sandbox.read_file("missing.txt")


@pytest.mark.parametrize(
    "path", ["../escape", "/etc/passwd", "/workspace/../etc/passwd", "a/../../escape", "/workspaces/x", "/"]
)
async def test_paths_outside_the_workspace_are_refused(sandbox: BubblewrapSandbox, path: str) -> None:
    with pytest.raises(PathOutsideWorkspace):
        await sandbox.read_file(path)
    with pytest.raises(PathOutsideWorkspace):
        await sandbox.write_file(path, b"escaped")
    assert not (sandbox.workspace.parent / "escape").exists()


async def test_symlinks_out_of_the_workspace_are_refused(sandbox: BubblewrapSandbox) -> None:
    (sandbox.workspace.parent / "secret.txt").write_text("outside")
    await sandbox.run(
        "echo inside > data.txt; ln -s /etc/passwd passwd; ln -s .. up; ln -s ../secret.txt secret; "
        "ln -s /workspace/data.txt absolute; ln -s data.txt relative; mkdir d; ln -s ../up d/up; ln -s loop loop"
    )

    for path in ("passwd", "up/secret.txt", "secret", "d/up/secret.txt", "loop"):
        with pytest.raises(PathOutsideWorkspace):
            await sandbox.read_file(path)
        with pytest.raises(PathOutsideWorkspace):
            await sandbox.write_file(path, b"escaped")
    assert (sandbox.workspace.parent / "secret.txt").read_text() == "outside"
    assert await sandbox.read_file("absolute") == b"inside\n"  # as the sandbox sees it: /workspace/data.txt
    assert await sandbox.read_file("relative") == b"inside\n"


@pytest.mark.skipif(not AS_ROOT, reason="only a root service hands the workspace to another user")
async def test_a_workspace_its_host_user_cannot_reach_is_refused(workspace: Path) -> None:
    workspace.parent.chmod(0o700)
    sandbox = BubblewrapSandbox(workspace, LIMITS)

    with pytest.raises(SandboxError, match="not searchable"):
        await sandbox.start()
    assert sandbox.state == "error"


# Inside the jail: open the controlling terminal, then push a character into the terminal on stdin (TIOCSTI).
_TERMINAL_PROBE = """
import fcntl, os, termios
try:
    os.open("/dev/tty", os.O_RDWR)
    print("has a terminal")
except OSError as error:
    print(error.errno)
try:
    fcntl.ioctl(0, termios.TIOCSTI, b"x")
    print("typed")
except OSError as error:
    print(error.errno)
"""
# On the host: a session whose controlling terminal is argv[1], standing for the service's, then bubblewrap in it.
_IN_A_TERMINAL = (
    "import os, sys; os.setsid(); os.dup2(os.open(sys.argv[1], os.O_RDWR), 0); os.execv(sys.argv[2], sys.argv[2:])"
)


def test_a_jail_has_a_session_of_its_own_so_it_cannot_type_into_the_services_terminal(workspace: Path) -> None:
    # --new-session alone (no seccomp filter here): without it the probe opens /dev/tty and types.
    make_workspace(workspace, None)
    etc = prepared_etc(workspace.parent, network=False)
    leader, follower = os.openpty()
    info_fd = os.memfd_create("bwrap-info")
    try:
        argv = bwrap_argv(shutil.which("bwrap") or "bwrap", workspace, LIMITS, etc=etc,
                          info_fd=info_fd, command=["python3", "-c", _TERMINAL_PROBE])  # fmt: skip
        probed = subprocess.run(
            [sys.executable, "-c", _IN_A_TERMINAL, os.ttyname(follower), *argv],
            capture_output=True, text=True, timeout=60, pass_fds=(info_fd,), check=False,
        )  # fmt: skip
        os.set_blocking(leader, False)
        with pytest.raises(BlockingIOError):  # nothing arrived at the terminal
            os.read(leader, 100)
    finally:
        for fd in (leader, follower, info_fd):
            os.close(fd)

    assert probed.returncode == 0, probed.stderr
    assert probed.stdout.split() == [str(errno.ENXIO), str(errno.EPERM)]  # no controlling terminal; not its own


def _argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return []


# bubblewrap takes a few milliseconds to start: every half millisecond of them, and once the command runs.
@pytest.mark.parametrize("delay", [*(i * 0.0005 for i in range(24)), 0.02, 0.05, None])
async def test_a_command_dies_with_its_service_whenever_the_service_dies(workspace: Path, delay: float | None) -> None:
    # bubblewrap's --die-with-parent alone missed a service killed while bubblewrap started.
    seconds = kill_a_service_while_it_starts_a_command("bubblewrap", "BubblewrapSandbox", workspace, delay)

    assert await wait_until_gone(seconds, seconds=5, look=commands_running) == [], "the command outlived its service"
    # bubblewrap itself may be left blocked in its start-up handshake, running nothing: a worker's sweep ends it.
    await asyncio.to_thread(kill_orphaned_jails)
    assert await wait_until_gone(seconds, seconds=5) == [], "a process of the sandbox outlived its service"
