"""Sandbox start (issues #5, #23): a run's bubblewrap sandbox started, `true` run in it and stopped, in this tree and,
interleaved in the same run, in a baseline tree (main before cgroups and seccomp: 4e93d2e).

Run it from the repository root: `.venv/bin/python -m bench.sandbox --baseline-src ../wt-base/src` (`--help` lists
the knobs; make the baseline with `git worktree add ../wt-base 4e93d2e`). Each tree is timed by a process of its
own (`bench/sandbox_timer.py`, with PYTHONPATH set to that tree's `src`); each round asks both for every variant
in turn, the first of the two alternating, so that both see the same load on a shared machine. The figures are p50,
the interquartile range and p90 over the rounds, after a few warm-up rounds, with the ratio of the two p50s.
Target: p50 ≤ 15 ms for "start + true" (start, `true`, stop).
"""

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.support.workspaces import reachable_directory

from agentruns.sandbox.availability import check_bubblewrap
from agentruns.sandbox.bubblewrap import host_user
from bench.support import load_average, percentile

TARGET_P50_MS = 15.0
TIMER = Path(__file__).with_name("sandbox_timer.py")
THIS_SRC = Path(__file__).resolve().parents[1] / "src"

BOTH = (
    ("bare true", "`true` via asyncio.create_subprocess_exec (the floor)"),
    ("start+true", "start + `true` + stop (the target)"),
    ("start", "start + stop alone (no jail)"),
    ("run true", "`true` in a started sandbox (one tool call)"),
    ("bwrap true", "bwrap's argv running `true` itself (no launcher)"),
)
THIS_ONLY = (
    ("run true, no filter", "diagnostic: `run true` without the seccomp filter"),
    ("run true, no cgroup", "diagnostic: `run true` without the cgroup"),
    ("cgroup create", "diagnostic: a sandbox's cgroups made with limits"),
    ("cgroup place", "diagnostic: a process written to its cgroup.procs"),
    ("cgroup remove", "diagnostic: the process moved out, the cgroups removed"),
)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.sandbox", description=__doc__)
    parser.add_argument("--starts", type=int, default=200, help="timed rounds [200]")
    parser.add_argument("--warmup", type=int, default=10, help="rounds before the timed ones [10]")
    parser.add_argument("--pause", type=float, default=0.03, help="seconds before each variant [0.03]; see measure")
    parser.add_argument("--baseline-src", type=Path, help="the `src` of a baseline tree, timed in turn with this one")
    return parser.parse_args(argv)


class TimerProcess:
    """A `sandbox_timer.py` process running one tree's code."""

    def __init__(self, src: Path, directory: Path) -> None:
        directory.mkdir(mode=0o711)
        environment = {key: value for key, value in os.environ.items() if not key.startswith("AGENTRUNS_")}
        environment["PYTHONPATH"] = str(src)
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter and the timer script
            [sys.executable, str(TIMER), str(directory)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env=environment, text=True, cwd=directory,
        )  # fmt: skip
        self.ready = self._line()
        if not self.ready.startswith("ready "):
            raise RuntimeError(f"the timer of {src} did not start: {self.ready}")

    def _line(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def ask(self, variant: str, number: int) -> tuple[float, float] | None:
        """The wall and CPU milliseconds of one `variant`, or None if this tree has no such thing."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{variant} {number}\n")
        self.process.stdin.flush()
        answer = self._line()
        if answer == "n/a":
            return None
        if answer.startswith("error") or not answer:
            raise RuntimeError(f"{variant}: {answer or 'the timer died'}")
        wall, cpu = answer.split()
        return float(wall), float(cpu)

    def close(self) -> None:
        """End the timer (its long-lived sandboxes stop)."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


Figures = dict[str, list[tuple[float, float]]]


def measure(timers: dict[str, TimerProcess], starts: int, warmup: int, pause: float) -> dict[str, Figures]:
    """`warmup` + `starts` rounds; each tree's timed figures by variant.

    Each variant waits `pause` seconds first: on cgroup v1 the first write to a `cgroup.procs` after a quiet moment
    waits for an RCU grace period and those soon after it do not, so without a pause a variant would be timed fast
    or slow by what ran just before it (see the *Cost* paragraph of docs/sandboxes.md).
    """
    figures: dict[str, Figures] = {tree: {} for tree in timers}
    names = list(timers)
    for number in range(warmup + starts):
        order = names if number % 2 == 0 else names[::-1]
        asked = [(variant, tree) for variant, _ in BOTH for tree in order]
        asked += [(variant, "this tree") for variant, _ in THIS_ONLY]
        for variant, tree in asked:
            time.sleep(pause)
            answer = timers[tree].ask(variant, number)
            if answer is not None and number >= warmup:
                figures[tree].setdefault(variant, []).append(answer)
    return figures


def _spread(values: list[float]) -> str:
    p25, p50, p75, p90 = (percentile(values, fraction) for fraction in (0.25, 0.5, 0.75, 0.9))
    return f"p50 {p50:6.2f} ms [{p25:6.2f}–{p75:6.2f}] p90 {p90:6.2f}"


def report(figures: dict[str, Figures]) -> None:
    """Print each variant's p50, interquartile range and p90 per tree, the ratio of the p50s, and the mean CPU."""
    this, baseline = figures["this tree"], figures.get("baseline")
    print(f"  {'':50} {'this tree':47}" + (f"   {'baseline':44} ratio" if baseline is not None else ""))
    for variant, label in (*BOTH, *THIS_ONLY):
        if variant not in this:
            continue
        walls = [wall for wall, _ in this[variant]]
        cpu = sum(cpu for _, cpu in this[variant]) / len(this[variant])
        line = f"  {label:50} {_spread(walls)} CPU {cpu:5.2f}"
        if baseline is not None and variant in baseline:
            base_walls = [wall for wall, _ in baseline[variant]]
            base_cpu = sum(cpu for _, cpu in baseline[variant]) / len(baseline[variant])
            ratio = percentile(walls, 0.5) / percentile(base_walls, 0.5)
            line += f"   {_spread(base_walls)} CPU {base_cpu:5.2f}  {ratio:4.2f}×"
        if variant == "start+true":
            met = percentile(walls, 0.5) <= TARGET_P50_MS
            line += f"  target p50 ≤ {TARGET_P50_MS:g} ms: {'met' if met else 'MISSED'}"
        print(line)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    args = _parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    problem = check_bubblewrap()
    if problem is not None:
        raise SystemExit(f"bubblewrap cannot run here: {problem}")
    user = "root, so jails run as nobody" if host_user() is not None else "not root"
    print(
        f"agentruns sandbox start benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"load average {load_average()},\n    Python {platform.python_version()}, {platform.platform()}, bubblewrap "
        f"{_bwrap_version()}, service {user}\n    {args.starts} rounds after {args.warmup} warm-up rounds; each "
        f"round times every variant once in each tree, in turn, {args.pause * 1000:g} ms after the one before; no "
        "network (1 cpu, 1024 MiB)"
    )
    started = time.perf_counter()
    sources = {"this tree": THIS_SRC} | ({"baseline": args.baseline_src.resolve()} if args.baseline_src else {})
    with reachable_directory("agentruns-bench-sandbox-") as directory:
        timers: dict[str, TimerProcess] = {}
        try:
            for tree, src in sources.items():
                timers[tree] = TimerProcess(src, directory / tree.replace(" ", "-"))
                print(f"    {tree}: {timers[tree].ready.removeprefix('ready ')}")
            figures = measure(timers, args.starts, args.warmup, args.pause)
        finally:
            for timer in timers.values():
                timer.close()
    report(figures)
    print(f"load average at the end {load_average()}; total benchmark time {time.perf_counter() - started:.0f} s")


def _bwrap_version() -> str:
    answer = subprocess.run(["bwrap", "--version"], capture_output=True, text=True, check=False)  # noqa: S607
    return answer.stdout.strip().removeprefix("bubblewrap ") or "?"


if __name__ == "__main__":
    main()
