"""A benchmark command run in this tree and in a baseline tree in turn, several times: the medians of each figure
that both print, and their ratio.

    .venv/bin/python -m bench.interleaved --baseline ../wt-base --rounds 3 -- bench.execution --backends sqlite

Each round runs `python -m <module> <args>` once in each tree (the first of the two alternating), each tree with its
own code: its directory as the working directory and its `src` first on PYTHONPATH, this virtualenv's Python and
libraries for both. A figure is a number on a line of the output; lines are matched across trees and rounds by their
text with the numbers taken out, so both trees must print the same lines (a benchmark's format rarely changes). The
report lists, for each line with a number that moved, the median of each of its numbers in both trees and the ratio
this / baseline: whether a higher figure is better (runs/s) or worse (ms) is for the reader, as the line says.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

THIS_TREE = Path(__file__).resolve().parents[1]
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?")
_VERDICT = re.compile(r"\b(met|MISSED)\b")
"""A target's verdict, which may differ between the trees on the same line."""


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.interleaved", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--baseline", type=Path, required=True, help="the root of the baseline tree (a worktree)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of the command in each tree [3]")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- MODULE [ARGS...]")
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.command:
        parser.error("give the benchmark module after --, e.g. -- bench.execution --backends sqlite")
    return args


def run_in(tree: Path, command: list[str]) -> str:
    """The output of `python -m command` run with the tree's own code.

    Raises:
        RuntimeError: It failed (its output in the message).
    """
    env = os.environ | {"PYTHONPATH": f"{tree / 'src'}{os.pathsep}{tree}"}
    argv = [sys.executable, "-m", *command]  # the command line of whoever runs this
    done = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed in {tree} ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def figures(output: str) -> dict[str, list[float]]:
    """Each line of the output that holds numbers, by its text with them replaced by `#`: its numbers, in order."""
    found: dict[str, list[float]] = {}
    seen: dict[str, int] = {}
    for line in output.splitlines():
        numbers = [float(number) for number in _NUMBER.findall(line)]
        if not numbers:
            continue
        shape = _VERDICT.sub("…", _NUMBER.sub("#", line.rstrip()))
        seen[shape] = seen.get(shape, 0) + 1
        found[shape if seen[shape] == 1 else f"{shape} ({seen[shape]})"] = numbers
    return found


def report(this: list[dict[str, list[float]]], baseline: list[dict[str, list[float]]]) -> list[str]:
    """For each line both trees printed in every round: its medians in this tree, in the baseline, and the ratios."""
    lines: list[str] = []
    for shape in this[0]:
        if not all(shape in run for run in this + baseline):
            continue
        width = len(this[0][shape])
        if any(len(run[shape]) != width for run in this + baseline):
            continue
        mine = [statistics.median(run[shape][index] for run in this) for index in range(width)]
        theirs = [statistics.median(run[shape][index] for run in baseline) for index in range(width)]
        if mine == theirs:
            continue  # a count, a setting or a date: nothing measured
        ratios = [f"{a / b:.2f}×" if b else "n/a" for a, b in zip(mine, theirs, strict=True)]
        lines.append(shape.strip())
        lines.append(f"    this:     {'  '.join(f'{value:g}' for value in mine)}")
        lines.append(f"    baseline: {'  '.join(f'{value:g}' for value in theirs)}")
        lines.append(f"    ratio:    {'  '.join(ratios)}")
    return lines


def main(argv: list[str] | None = None) -> None:
    """Run the command in both trees in turn and print the medians and ratios."""
    args = _parse_args(argv)
    baseline_tree = args.baseline.resolve()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"interleaved: {' '.join(args.command)} × {args.rounds} rounds, this tree {THIS_TREE} against "
          f"{baseline_tree}; load average {load}", flush=True)  # fmt: skip
    started = time.perf_counter()
    this: list[dict[str, list[float]]] = []
    baseline: list[dict[str, list[float]]] = []
    for round_number in range(args.rounds):
        order = [(THIS_TREE, this), (baseline_tree, baseline)]
        for tree, runs in order if round_number % 2 == 0 else reversed(order):
            runs.append(figures(run_in(tree, args.command)))
        print(f"  round {round_number + 1} done at {time.perf_counter() - started:.0f} s", flush=True)
    print("\n".join(report(this, baseline)))
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"load average at the end {load}; total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
