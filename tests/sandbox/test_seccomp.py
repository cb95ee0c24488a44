"""The seccomp filter of every jail: what it refuses, from inside a real jail; that it, not the kernel, refuses it;
that ordinary commands still work; and where there is no filter, that nothing runs unless that is allowed."""

import errno
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pyseccomp  # pyright: ignore[reportMissingTypeStubs]
import pytest

from agentruns.sandbox import availability, seccomp
from agentruns.sandbox.availability import usable_filter
from agentruns.sandbox.bubblewrap import BubblewrapSandbox
from agentruns.sandbox.errors import SandboxError, SandboxUnavailable
from tests.sandbox import syscall_cases
from tests.sandbox.conftest import LIMITS

pytestmark = pytest.mark.anyio

AS_ROOT = os.geteuid() == 0
NO_FILTER = seccomp.Filter(None, "no filter is written for the riscv64 architecture, only for x86_64, aarch64")


@pytest.fixture
def no_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine where no filter can be built (and no warning given yet)."""
    monkeypatch.setattr(seccomp, "status", lambda: NO_FILTER)
    monkeypatch.setattr(availability, "_warned", set())


def test_every_rule_of_the_policy_is_probed() -> None:
    assert syscall_cases.unprobed_rules() == set()


async def test_each_refused_call_fails_inside_a_jail(sandbox: BubblewrapSandbox) -> None:
    await sandbox.write_file("syscall_probe.py", syscall_cases.PROBE.read_bytes())

    result = await sandbox.run(syscall_cases.command())

    assert result.exit_code == 0, result
    assert json.loads(result.stdout) == syscall_cases.expected()

    attempted = await sandbox.run(syscall_cases.attempts_command())

    assert attempted.exit_code == 0, attempted
    assert json.loads(attempted.stdout) == dict.fromkeys(syscall_cases.ATTEMPTS, errno.EPERM)


@pytest.mark.skipif(not AS_ROOT, reason="as root the kernel would allow these calls, so only the filter refuses them")
def test_the_filter_not_the_kernel_gives_those_answers(tmp_path: Path) -> None:
    program = tmp_path / "filter.bpf"
    program.write_bytes(seccomp.build())

    def probe(filter_path: Path | None) -> dict[str, int | str]:
        answered = subprocess.run(
            [sys.executable, str(syscall_cases.PROBE), syscall_cases.request(filter_path)],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return json.loads(answered.stdout)

    expected = syscall_cases.expected()
    filtered, unfiltered = probe(program), probe(None)

    assert filtered == expected
    assert {label: answer for label, answer in unfiltered.items() if answer == expected[label]} == {}


ORDINARY = {
    "bash": "echo $((6 * 7))",
    "python3 threads and a subprocess": (
        "python3 -c 'import concurrent.futures as f, subprocess; "
        'print(sum(f.ThreadPoolExecutor(4).map(abs, range(-4, 0))), subprocess.run(["true"]).returncode)\''
    ),
    "pip": "pip --version | cut -d' ' -f1",
    "git": "git init -q repo && git -C repo -c user.name=a -c user.email=a@b commit -q --allow-empty -m m && echo ok",
    "curl": "curl --version | head -c 4",
    "tar": "mkdir d && echo x > d/f && tar czf d.tgz d && rm -r d && tar xzf d.tgz && cat d/f",
    "fork and exec": "(sleep 0.1 &) ; sh -c 'echo forked' & wait",
    "a terminal": "python3 -c 'import os, pty; pid, _ = pty.fork(); pid or os._exit(0); print(os.waitpid(pid, 0)[1])'",
}


@pytest.mark.parametrize("name", ORDINARY)
async def test_ordinary_commands_still_work(sandbox: BubblewrapSandbox, name: str) -> None:
    result = await sandbox.run(ORDINARY[name])

    assert result.exit_code == 0, result
    expected = {"bash": "42", "python3 threads and a subprocess": "10 0", "pip": "pip", "git": "ok", "curl": "curl",
                "tar": "x", "fork and exec": "forked", "a terminal": "0"}  # fmt: skip
    assert result.stdout.strip() == expected[name], result


async def test_no_user_namespace_can_be_made_inside(sandbox: BubblewrapSandbox) -> None:
    # The filter answers EPERM first; without it, bubblewrap's --disable-userns would answer ENOSPC.
    unshared = await sandbox.run("unshare -U true")
    nested = await sandbox.run("bwrap --ro-bind / / true")

    assert unshared.exit_code != 0 and "Operation not permitted" in unshared.stderr, unshared
    assert nested.exit_code != 0, nested


async def test_the_filter_is_on_in_every_command(sandbox: BubblewrapSandbox) -> None:
    result = await sandbox.run("grep Seccomp: /proc/self/status")

    assert result.stdout.split() == ["Seccomp:", "2"]  # SECCOMP_MODE_FILTER
    assert sandbox.syscall_filter.startswith("seccomp filter on")


@pytest.mark.usefixtures("no_filter")
async def test_without_a_filter_no_sandbox_starts_unless_allowed(workspace: Path) -> None:
    refused = BubblewrapSandbox(workspace, LIMITS)
    with pytest.raises(SandboxError, match="AGENTRUNS_ALLOW_UNFILTERED_SANDBOX=true"):
        await refused.start()
    assert refused.state == "error"

    allowed = BubblewrapSandbox(workspace, LIMITS, allow_unfiltered=True)
    await allowed.start()
    try:
        result = await allowed.run("grep Seccomp: /proc/self/status")
    finally:
        await allowed.stop()
    assert result.stdout.split() == ["Seccomp:", "0"]
    assert allowed.syscall_filter == f"NO seccomp filter ({NO_FILTER.problem})"


@pytest.mark.usefixtures("no_filter")
def test_without_a_filter_the_worker_check_refuses_unless_allowed(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(SandboxUnavailable, match=r"no seccomp filter .* riscv64 .*_ALLOW_UNFILTERED_SANDBOX=true"):
        usable_filter(allow_unfiltered=False)

    with caplog.at_level(logging.WARNING):
        described = usable_filter(allow_unfiltered=True)
        usable_filter(allow_unfiltered=True)

    assert described.startswith("NO seccomp filter")
    assert [record.levelno for record in caplog.records] == [logging.WARNING]  # once per process
    assert "UNFILTERED SANDBOX" in caplog.text


def test_the_policy_builds_for_aarch64_too() -> None:
    # libseccomp compiles for any architecture; the rules it needs (clone's flags, the ioctl numbers) hold there.
    assert len(seccomp.build(pyseccomp.Arch.AARCH64)) > 100 * 8


def test_an_architecture_without_a_policy_gets_no_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("platform.machine", lambda: "riscv64")
    seccomp.status.cache_clear()
    try:
        found = seccomp.status()
    finally:
        seccomp.status.cache_clear()

    assert found.program is None
    assert found.problem == NO_FILTER.problem
