"""The events benchmark (issue #6): SSE fan-out to many subscribers (a), replay speed (b), webhook delay (c).

Run it from the repository root: `.venv/bin/python -m bench.events` (`--help` lists the knobs). Every figure
is printed next to a baseline measured in the same invocation, and with the load average at that moment,
because the machine is shared.
"""

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.support.workspaces import reachable_directory

from bench.fanout import FanOut, Setup, agentruns_fanout, baseline_fanout
from bench.replay import Replay, agentruns_replay, baseline_replay
from bench.support import BACKENDS, fresh_database, load_average, percentile
from bench.webhook_latency import Webhooks, webhook_latency

TARGET_FANOUT_P99_MS = 100.0
TARGET_REPLAY_EVENTS_PER_SECOND = 20_000.0
TARGET_WEBHOOK_MS = 100.0
PARTS = ("fanout", "replay", "webhooks")
MODES = ("embedded", "fleet")


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.events", description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1000, help="SSE subscribers of (a) [1000]")
    parser.add_argument("--events", type=int, default=20, help="events written one at a time in (a) [20]")
    parser.add_argument("--gap", type=float, default=0.1, help="pause after each event of (a), in seconds [0.1]")
    parser.add_argument("--modes", default=",".join(MODES), help="(a)'s writers: embedded,fleet [both]")
    parser.add_argument("--stored", type=int, default=10_000, help="stored events replayed in (b) [10000]")
    parser.add_argument("--repeats", type=int, default=3, help="timed replays of (b), after a warm-up [3]")
    parser.add_argument("--webhook-runs", type=int, default=30, help="runs whose webhook (c) times [30]")
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw", help="how clients read SSE [raw]")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="sqlite,postgresql [both]")
    parser.add_argument("--skip", default="", help="parts to leave out, comma-separated: fanout,replay,webhooks")
    return parser.parse_args(argv)


def _spread(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.5):7.1f} ms  p99 {percentile(values, 0.99):7.1f} ms  max {max(values):7.1f} ms"


def _fanout_line(label: str, result: FanOut, judged: bool) -> None:
    if not result.delays_ms:
        print(f"  {label:44} no delivery measured ({result.error_count} errors: {result.errors[:3]})")
        return
    target = ""
    if judged:
        met = percentile(result.delays_ms, 0.99) <= TARGET_FANOUT_P99_MS
        target = f"  target p99 ≤ {TARGET_FANOUT_P99_MS:g} ms: {_verdict(met)}"
    print(f"  {label:44} {_spread(result.delays_ms)}{target}")
    expected = result.subscribers * result.events
    idle = result.idle_server_cpu_share or 0.0
    per_event = result.server_cpu_per_event_ms or 0.0
    print(
        f"  {'':44} {len(result.delays_ms)}/{expected} deliveries, {result.missing} events not seen by all within "
        f"30 s, {result.error_count} stream errors; server CPU {per_event:.0f} ms per event written, "
        f"{idle * 100:.0f}% of a core with every stream idle; subscribers' CPU {result.client_cpu_seconds:.1f} s; "
        f"load average {load_average()}"
    )
    slowest = " ".join(f"{value:.0f}" for value in result.slowest_ms)
    print(f"  {'':44} each event to its last subscriber (ms): {slowest}")
    for error in result.errors[:3]:
        print(f"  {'':44} error: {error[:200]}")


def _fanout(args: argparse.Namespace, backends: list[str], directory: Path) -> None:
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    print(
        f"(a) Fan-out: {args.subscribers} SSE subscribers ({args.client} client, in a subprocess) on one run of one "
        f"API process;\n    {args.events} `run.step` events written one at a time through the storage layer, each once "
        f"all have the one before (+{args.gap:g} s);\n    delay = from just before the event's write transaction "
        f"to its receipt by a subscriber, over all subscribers and events"
    )
    baseline = asyncio.run(baseline_fanout(args.subscribers, args.events, args.gap, args.client))
    _fanout_line("baseline: trivial SSE server, POST /publish", baseline, judged=False)
    for backend in backends:
        for mode in modes:
            setup = Setup(backend, mode)
            with fresh_database(backend, directory) as url:
                result = asyncio.run(
                    agentruns_fanout(setup, url, directory / f"fanout-{backend}-{mode}", args.subscribers,
                                     args.events, args.gap, args.client)
                )  # fmt: skip
            _fanout_line(setup.label, result, judged=True)
    for line in (
        "writer in the API process = the embedded `agentruns serve`: the API is uvicorn in a thread of this process",
        "and a commit wakes its streams directly; writer in another process = a fleet: `agentruns serve --no-worker`",
        "as a subprocess, woken by NOTIFY on PostgreSQL, and on SQLite only by the process's check of the run's log",
        "every AGENTRUNS_EVENTS_POLL_SECONDS (0.5 s). Server CPU: of the server process (embedded: of this whole",
        "process).",
    ):
        print(f"  {line}")


def _replay_line(label: str, result: Replay, judged: bool) -> None:
    rate = result.events_per_second
    target = f"  target ≥ {TARGET_REPLAY_EVENTS_PER_SECOND:,.0f}/s: {_verdict(rate >= TARGET_REPLAY_EVENTS_PER_SECOND)}"
    each = " ".join(f"{seconds:.2f}" for seconds in result.seconds)
    print(
        f"  {label:44} {rate:9,.0f} events/s  (median of [{each}] s for {result.events:,} events; server CPU "
        f"{result.server_cpu_per_event_us:.0f} µs per event){target if judged else ''}; load average {load_average()}"
    )


def _replay(args: argparse.Namespace, backends: list[str], directory: Path) -> None:
    print(
        f"(b) Replay: one client ({args.client}) reads a run's {args.stored:,} stored events (+ its first and its "
        f"terminal event)\n    from id 0 to `close`, {args.repeats} times after a warm-up, from "
        f"`agentruns serve --no-worker`"
    )
    _replay_line("baseline: trivial SSE server, in memory", asyncio.run(
        baseline_replay(args.stored, args.repeats, args.client)), judged=False)  # fmt: skip
    for backend in backends:
        with fresh_database(backend, directory) as url:
            result = asyncio.run(
                agentruns_replay(backend, url, directory / f"replay-{backend}", args.stored, args.repeats, args.client)
            )
        _replay_line(backend, result, judged=True)


def _webhooks(args: argparse.Namespace, backends: list[str], directory: Path) -> None:
    print(
        f"(c) Webhooks: {args.webhook_runs} runs one after the other (offline model, no tool), each with a callbackUrl"
        f"\n    at an HTTPS receiver on loopback, executed by an `agentruns worker` subprocess; delay = the run's "
        f"completedAt\n    → the first POST's arrival at the receiver"
    )
    baseline: list[float] = []
    for backend in backends:
        with fresh_database(backend, directory) as url:
            result: Webhooks = webhook_latency(url, directory / f"webhooks-{backend}", args.webhook_runs)
        met = percentile(result.to_receipt_ms, 0.5) <= TARGET_WEBHOOK_MS
        print(
            f"  {backend:10} end → POST received        {_spread(result.to_receipt_ms)}  target ≤ "
            f"{TARGET_WEBHOOK_MS:g} ms (p50): {_verdict(met)}; load average {load_average()}"
        )
        print(f"  {'':10} end → first attempt started {_spread(result.to_attempt_ms)}")
        print(f"  {'':10} attempt started → received  {_spread(result.attempt_to_receipt_ms)}")
        baseline += result.baseline_ms
    print(
        f"  baseline: the sender's check + sign + post() straight to the receiver, {_spread(baseline)} "
        f"(mean {statistics.fmean(baseline):.1f} ms)"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    args = _parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # each figure shows as it is measured
    backends = [backend.strip() for backend in args.backends.split(",") if backend.strip()]
    skipped = {part.strip() for part in args.skip.split(",") if part.strip()}
    if unknown := skipped - set(PARTS):
        raise SystemExit(f"--skip: unknown part(s) {', '.join(sorted(unknown))}; the parts are {', '.join(PARTS)}")
    print(
        f"agentruns events benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"load average {load_average()},\n    Python {platform.python_version()}, {platform.platform()}"
    )
    started = time.perf_counter()
    with reachable_directory("agentruns-bench-events-") as scratch:
        directory = Path(scratch)
        if "fanout" not in skipped:
            _fanout(args, backends, directory)
        if "replay" not in skipped:
            _replay(args, backends, directory)
        if "webhooks" not in skipped:
            _webhooks(args, backends, directory)
    print(f"total benchmark time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
