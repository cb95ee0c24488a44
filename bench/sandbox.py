"""Sandbox start (issue #5): a run's bubblewrap sandbox started and `true` run in it, against a bare subprocess.

Run it from the repository root: `.venv/bin/python -m bench.sandbox` (`--help` lists the knobs). Each round
times every variant once, in turn, so that all of them see the same load on a shared machine; the figures
are p50 and p99 over the rounds, after a few warm-up rounds, with the ratio to the baseline of the same run.
Target: p50 ≤ 15 ms for "start + true".
"""

import argparse
import asyncio
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from tests.support.workspaces import reachable_directory

from agentruns.sandbox.availability import check_bubblewrap, make_sandbox
from agentruns.sandbox.bubblewrap import BubblewrapSandbox, bwrap_argv, host_user
from agentruns.sandbox.etc import prepared_etc
from agentruns.sandbox.protocol import Sandbox, SandboxLimits
from agentruns.sandbox.unisolated import SubprocessSandbox
from bench.support import load_average, percentile

TARGET_P50_MS = 15.0
LIMITS = SandboxLimits(cpu=1, memory_mib=1024)  # an agent's default size, the deployment's other defaults

Variant = Callable[[int], Awaitable[None]]


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.sandbox", description=__doc__)
    parser.add_argument("--starts", type=int, default=200, help="timed rounds [200]")
    parser.add_argument("--warmup", type=int, default=10, help="rounds before the timed ones [10]")
    return parser.parse_args(argv)


async def bare_true(_: int) -> None:
    """The baseline: `true` as a plain child process, spawned and reaped on asyncio."""
    process = await asyncio.create_subprocess_exec("true")
    if await process.wait() != 0:
        raise RuntimeError("`true` failed")


def _check(sandbox: Sandbox, exit_code: int | None, what: str) -> None:
    if exit_code != 0:
        raise RuntimeError(f"{what} in the {sandbox.provider} sandbox ended with {exit_code}")


class Variants:
    """The timed variants, over workspaces made under one directory that the sandbox's host user can reach."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.bwrap = shutil.which("bwrap") or "bwrap"
        self.started: BubblewrapSandbox | None = None
        self.unisolated: SubprocessSandbox | None = None

    def workspace(self, kind: str, number: int) -> Path:
        """A fresh workspace path, as a run would have (`run_…`), not created yet."""
        return self.directory / kind / f"run_{number:06d}"

    async def open(self) -> None:
        """Start the long-lived sandboxes that the per-command variants reuse."""
        self.started = BubblewrapSandbox(self.workspace("long", 0), LIMITS)
        await self.started.start()
        self.unisolated = SubprocessSandbox(self.workspace("long", 1), LIMITS)
        await self.unisolated.start()

    async def close(self) -> None:
        """Stop the long-lived sandboxes."""
        for sandbox in (self.started, self.unisolated):
            if sandbox is not None:
                await sandbox.stop()

    async def start_and_true(self, number: int) -> None:
        """The target: a run's sandbox made as the engine makes it, started, then `true` run in it."""
        sandbox = make_sandbox(self.workspace("start-true", number), LIMITS, allow_unisolated=False, network=None)
        await sandbox.start()
        result = await sandbox.run("true")
        _check(sandbox, result.exit_code, "`true`")
        await sandbox.stop()

    async def start_only(self, number: int) -> None:
        """`start()` alone: the workspace made and handed to the sandbox's user (no jail: see `start`)."""
        sandbox = make_sandbox(self.workspace("start", number), LIMITS, allow_unisolated=False, network=None)
        await sandbox.start()
        await sandbox.stop()

    async def run_true(self, _: int) -> None:
        """One more command in a started sandbox: the cost of each `bash` tool call's jail."""
        assert self.started is not None
        _check(self.started, (await self.started.run("true")).exit_code, "`true`")

    async def unisolated_true(self, _: int) -> None:
        """Diagnostic: the same launcher (rlimits, nice, bash -c) and runner with no jail around it."""
        assert self.unisolated is not None
        _check(self.unisolated, (await self.unisolated.run("true")).exit_code, "`true`")

    async def bwrap_true(self, _: int) -> None:
        """Diagnostic: bubblewrap with the sandbox's command line running `true` itself (no launcher, no runner)."""
        assert self.started is not None
        etc = prepared_etc(self.started.workspace.parent, network=False)
        info_fd = os.memfd_create("bwrap-info")
        owner = host_user()
        uid, gid = owner if owner is not None else (None, None)
        argv = bwrap_argv(self.bwrap, self.started.workspace, LIMITS, etc=etc, info_fd=info_fd,
                          command=["true"])  # fmt: skip
        try:
            process = await asyncio.create_subprocess_exec(
                *argv, pass_fds=(info_fd,), env={"PATH": os.defpath}, user=uid, group=gid,
                extra_groups=[] if owner is not None else None,
            )  # fmt: skip
            code = await process.wait()
        finally:
            os.close(info_fd)
        if code != 0:
            raise RuntimeError(f"bwrap … true ended with {code}")


def _cpu_seconds() -> float:
    """CPU time of this process and of its reaped descendants so far (bubblewrap reaps the jail's)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def measure(directory: Path, starts: int, warmup: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Every variant once per round, `warmup` + `starts` rounds: the timed rounds' milliseconds by variant,
    and the CPU milliseconds (this process and its children) each spent on average."""
    variants = Variants(directory)
    await variants.open()
    table: list[tuple[str, Variant]] = [
        ("baseline", bare_true),
        ("start+true", variants.start_and_true),
        ("start", variants.start_only),
        ("run true", variants.run_true),
        ("bwrap true", variants.bwrap_true),
        ("unisolated true", variants.unisolated_true),
    ]
    times: dict[str, list[float]] = {name: [] for name, _ in table}
    cpu: dict[str, float] = dict.fromkeys(times, 0.0)
    try:
        for number in range(warmup + starts):
            for name, variant in table:
                cpu_before, began = _cpu_seconds(), time.perf_counter()
                await variant(number)
                elapsed, cpu_used = (time.perf_counter() - began) * 1000, (_cpu_seconds() - cpu_before) * 1000
                if number >= warmup:
                    times[name].append(elapsed)
                    cpu[name] += cpu_used / starts
    finally:
        await variants.close()
    return times, cpu


_ROWS = (
    ("baseline", "baseline: `true` via asyncio.create_subprocess_exec"),
    ("start+true", "sandbox start + `true` (the target)"),
    ("start", "sandbox start alone (no jail yet)"),
    ("run true", "`true` in a started sandbox (one tool call)"),
    ("bwrap true", "diagnostic: bwrap's argv running `true` directly"),
    ("unisolated true", "diagnostic: launcher + runner, no jail"),
)


def report(times: dict[str, list[float]], cpu: dict[str, float]) -> None:
    """Print p50 and p99 of each variant, their ratios to the baseline's, and the mean CPU time."""
    base50, base99 = percentile(times["baseline"], 0.5), percentile(times["baseline"], 0.99)
    for key, label in _ROWS:
        values = times[key]
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        line = f"  {label:52} p50 {p50:6.2f} ms ({p50 / base50:5.1f}×)  p99 {p99:6.2f} ms ({p99 / base99:5.1f}×)"
        line += f"  mean {statistics.fmean(values):6.2f} ms  CPU {cpu[key]:5.2f} ms"
        if key == "start+true":
            line += f"  target p50 ≤ {TARGET_P50_MS:g} ms: {'met' if p50 <= TARGET_P50_MS else 'MISSED'}"
        print(line)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    args = _parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    problem = check_bubblewrap()
    if problem is not None:
        raise SystemExit(f"bubblewrap cannot run here: {problem}")
    load = load_average()
    user = "root, so jails run as nobody" if host_user() is not None else "not root"
    print(
        f"agentruns sandbox start benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"load average {load},\n    Python {platform.python_version()}, {platform.platform()}, bubblewrap "
        f"{_bwrap_version()}, service {user}\n    {args.starts} rounds after {args.warmup} warm-up rounds; each "
        f"round times every variant once, in turn; no network ({LIMITS.cpu} cpu, {LIMITS.memory_mib} MiB)"
    )
    started = time.perf_counter()
    with reachable_directory("agentruns-bench-sandbox-") as directory:
        times, cpu = asyncio.run(measure(directory, args.starts, args.warmup))
    report(times, cpu)
    print(f"load average at the end {load_average()}; total benchmark time {time.perf_counter() - started:.0f} s")


def _bwrap_version() -> str:
    answer = subprocess.run(["bwrap", "--version"], capture_output=True, text=True, check=False)  # noqa: S607
    return answer.stdout.strip().removeprefix("bubblewrap ") or "?"


if __name__ == "__main__":
    main()
