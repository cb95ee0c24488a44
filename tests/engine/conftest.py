"""Helpers for execution tests (the model stub and the worker fixtures are in `tests/conftest.py`, shared with
the event tests: one worker per database, so that every run reaches the one stub)."""

import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.workers import WorkerProcess

TERMINAL = {"completed", "failed", "cancelled", "timeout"}


def wait_for_status(
    client: httpx.Client, run_id: str, statuses: set[str] = TERMINAL, timeout: float = 60
) -> dict[str, Any]:
    """Poll the run's status until it is one of `statuses`; returns the status body."""
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(f"/agent/v1/run/{run_id}/status").json()
        if status["status"] in statuses:
            return status
        assert time.monotonic() < deadline, f"run {run_id} still {status['status']} after {timeout} s"
        time.sleep(0.05)


def wait_until(predicate: Any, timeout: float = 30, interval: float = 0.05) -> float:
    """Wait until `predicate()` is true; returns how long it took."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "the condition did not become true in time"
        time.sleep(interval)
    return time.monotonic() - started


def sleep_until_interrupted(seconds: str, then: str) -> str:
    """A shell command that sleeps the first time it runs and not when a resumed run runs it again (it leaves a file
    in the run's workspace): a test that kills the tool's worker waits out the sleep once, not twice."""
    flag = f".slept-{seconds}"
    return f"[ -e {flag} ] || {{ touch {flag}; sleep {seconds}; }}; {then}"


def quick_worker(
    url: str, workspaces: Path, stub_url: str, executor_id: str, *, heartbeat: str = "0.5", dead_after: str = "2"
) -> WorkerProcess:
    """A worker whose runs another takes over `dead_after` seconds after its heart stops, not 10: a test need not
    wait it out (2 s: one run does not make a worker miss beats)."""
    return WorkerProcess(
        url, workspaces, openai_compatible_base_url=stub_url, executor_id=executor_id,
        worker_heartbeat_seconds=heartbeat, worker_dead_after_seconds=dead_after,
    )  # fmt: skip
