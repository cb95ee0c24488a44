"""Chaos: many runs on PostgreSQL while workers are SIGKILLed at random moments and restarted.

One `agentruns serve --no-worker` process and a few `agentruns worker` processes share a fresh PostgreSQL
database; the model is the OpenAI-compatible stub of the tests, answering each request after a delay.
Every run makes two model requests and one `bash` call. While they run, a random worker is SIGKILLed at a
random moment and restarted at once, `--kills` times: half of the restarts keep the executor id (the
restarted process resumes its own runs), half take a new one (a live worker must take the dead one's runs
over). At the end it prints how many runs completed, the duplicates found in their audit trails and at the
stub, and the largest recovery delay: for each kill, the time until every run the killed worker held
recorded its next step or its end (so it includes the rest of the step that was cut off).

    .venv/bin/python -m bench.chaos [--runs 200] [--kills 10] [--workers 3] [--seed N]
"""

import argparse
import concurrent.futures
import contextlib
import os
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import psycopg
from tests.support.fleet import api_processes
from tests.support.model_stub import ModelStub
from tests.support.servers import serving
from tests.support.workers import WorkerProcess
from tests.support.workspaces import reachable_directory

from agentruns.storage import migrate
from bench.support import TERMINAL, fresh_database

MODEL_DELAY_SECONDS = 1.0
EXPECTED_STEPS = ["tool_call", "tool_result", "output"]
EXPECTED_REQUESTS = 2


@dataclass
class Kill:
    """One SIGKILL: when, whom, and the runs its worker held at that moment."""

    at: float
    executor_id: str
    same_id_restart: bool
    held: set[str]
    recovered_at: dict[str, float] = field(default_factory=dict[str, float])

    @property
    def recovery_seconds(self) -> float | None:
        """Time until every held run moved again; None if one never did."""
        if len(self.recovered_at) < len(self.held):
            return None
        return max(self.recovered_at.values(), default=self.at) - self.at


class Fleet:
    """The worker processes, each restartable under its own or a new executor id."""

    def __init__(self, url: str, workspace: Path, stub_url: str, size: int) -> None:
        self.url, self.workspace, self.stub_url = url, workspace, stub_url
        self.generation = 0
        self.workers = [self._start(f"chaos-{slot}-0") for slot in range(size)]
        self.executor_ids = [f"chaos-{slot}-0" for slot in range(size)]

    def _start(self, executor_id: str) -> WorkerProcess:
        return WorkerProcess(self.url, self.workspace, openai_compatible_base_url=self.stub_url,
                             executor_id=executor_id)  # fmt: skip

    def kill_and_restart(self, slot: int, *, same_id: bool) -> str:
        """SIGKILL the worker in `slot` and start its replacement; returns the killed executor id."""
        killed = self.executor_ids[slot]
        self.workers[slot].kill()
        if not same_id:
            self.generation += 1
            self.executor_ids[slot] = f"chaos-{slot}-{self.generation}"
        self.workers[slot] = self._start(self.executor_ids[slot])
        return killed

    def stop(self) -> None:
        """SIGTERM every worker."""
        for worker in self.workers:
            worker.stop()


def held_runs(connection: psycopg.Connection, executor_id: str) -> set[str]:
    """The unfinished runs whose workflows the executor was running (PENDING in DBOS's table; a run
    that has just recorded its end stays PENDING there until its workflow returns)."""
    rows = connection.execute(
        "SELECT workflow_uuid FROM dbos.workflow_status WHERE executor_id = %s AND status = 'PENDING'",
        (executor_id,),
    ).fetchall()
    held = {"run_" + row[0].removeprefix("wrun_") for row in rows if row[0].startswith("wrun_")}
    ended = connection.execute(
        "SELECT id FROM runs WHERE id = ANY(%s) AND status = ANY(%s)", (list(held), list(TERMINAL))
    ).fetchall()
    return held - {row[0] for row in ended}


def stuck_workflows(connection: psycopg.Connection, run_ids: list[str]) -> dict[tuple[str, str, bool], int]:
    """The workflows of the runs not ended, counted by executor, status and whether the executor has a row."""
    rows = connection.execute(
        """
        SELECT w.executor_id, w.status, EXISTS (SELECT 1 FROM workers WHERE workers.executor_id = w.executor_id)
        FROM runs JOIN dbos.workflow_status w ON w.workflow_uuid = runs.workflow_id
        WHERE runs.id = ANY(%s) AND runs.status <> ALL(%s)
        """,
        (run_ids, list(TERMINAL)),
    ).fetchall()
    counts: dict[tuple[str, str, bool], int] = {}
    for executor_id, status, has_row in rows:
        counts[(executor_id, status, has_row)] = counts.get((executor_id, status, has_row), 0) + 1
    return counts


def last_activity(connection: psycopg.Connection, run_ids: set[str]) -> dict[str, float]:
    """For each run, the time of its newest step, usage entry or end."""
    rows = connection.execute(
        """
        SELECT id, greatest(
            completed_at,
            (SELECT max(timestamp) FROM run_steps WHERE run_steps.run_id = runs.id),
            (SELECT max(timestamp) FROM usage_entries WHERE usage_entries.run_id = runs.id))
        FROM runs WHERE id = ANY(%s)
        """,
        (list(run_ids),),
    ).fetchall()
    return {run_id: moment.timestamp() for run_id, moment in rows if moment is not None}


def audit(client: httpx.Client, stub: ModelStub, marker: str, run_ids: list[str]) -> dict[str, int]:
    """Count what a crash must never double: steps, usage entries, model requests re-sent after being recorded."""
    found = {"steps": 0, "usage entries": 0, "model requests": 0, "resent in the crash window": 0}
    for number, run_id in enumerate(run_ids):
        details = client.get(f"/agent/v1/run/{run_id}").json()
        if details["status"] != "completed":
            continue
        found["steps"] += max(0, len(details["steps"]) - len(EXPECTED_STEPS))
        entries = details["usage"]["entries"]
        found["usage entries"] += max(0, len(entries) - EXPECTED_REQUESTS)
        requests = stub.requests_for(f"{marker}-{number:03d}\n")
        for index, entry in enumerate(entries):
            recorded_at = datetime.fromisoformat(entry["timestamp"]).timestamp()
            sent = [request for request in requests if request.tool_results == index]
            found["model requests"] += sum(request.received_at > recorded_at + 0.001 for request in sent)
            found["resent in the crash window"] += max(0, sum(request.answered for request in sent) - 1)
    return found


def main() -> None:
    """Parse the options, run the chaos and print the report; exit 1 if anything was lost or doubled."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for every run to end")
    options = parser.parse_args()
    seed = options.seed if options.seed is not None else random.randrange(1 << 30)
    chance = random.Random(seed)
    print(f"chaos: {options.runs} runs, {options.kills} SIGKILLs, {options.workers} workers, seed {seed}")

    stub = ModelStub()
    with (
        reachable_directory("agentruns-chaos-") as scratch,
        serving(stub.app()) as stub_base,
        fresh_database("postgresql", Path(scratch)) as url,
        contextlib.ExitStack() as stack,
    ):
        migrate.upgrade(url)
        apis = stack.enter_context(api_processes(url, Path(scratch) / "ws", count=1, key_name="chaos"))
        client = apis[0]
        fleet = Fleet(url, Path(scratch) / "ws", f"{stub_base}/v1", options.workers)
        watcher = psycopg.connect(url, autocommit=True)
        try:
            body = {"name": "chaos", "instructions": "Work.", "model": "openai-compatible/chaos"}
            agent = client.post("/agent/v1/agents", json=body).json()["id"]
            marker = f"chaos-{os.urandom(4).hex()}"

            def submit(number: int) -> str:
                prompt = (f"{marker}-{number:03d}\nsleep {MODEL_DELAY_SECONDS}\n"
                          f'call bash {{"command": "echo {number}"}}')  # fmt: skip
                run = client.post("/agent/v1/run", json={"agentId": agent, "prompt": prompt}).json()["id"]
                client.post(f"/agent/v1/run/{run}/exec").raise_for_status()
                return run

            started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
                run_ids = list(pool.map(submit, range(options.runs)))
            print(f"submitted {len(run_ids)} runs in {time.monotonic() - started:.1f} s")

            kills: list[Kill] = []

            def statuses() -> dict[str, int]:
                counts: dict[str, int] = {}
                for (status,) in watcher.execute("SELECT status FROM runs WHERE id = ANY(%s)", (run_ids,)):
                    counts[status] = counts.get(status, 0) + 1
                return counts

            def track_recoveries() -> None:
                for kill in kills:
                    pending = kill.held - kill.recovered_at.keys()
                    if pending:
                        for run_id, moment in last_activity(watcher, pending).items():
                            if moment > kill.at:
                                kill.recovered_at[run_id] = moment

            deadline = time.monotonic() + options.timeout
            next_kill = time.monotonic() + chance.uniform(1.0, 4.0)
            while time.monotonic() < deadline:
                counts = statuses()
                if sum(counts.get(status, 0) for status in TERMINAL) == len(run_ids) and len(kills) >= options.kills:
                    break
                if len(kills) < options.kills and time.monotonic() >= next_kill:
                    slot = chance.randrange(options.workers)
                    same_id = chance.random() < 0.5
                    executor_id = fleet.executor_ids[slot]
                    held = held_runs(watcher, executor_id)
                    at = time.time()
                    fleet.kill_and_restart(slot, same_id=same_id)
                    kills.append(Kill(at=at, executor_id=executor_id, same_id_restart=same_id, held=held))
                    restart = "same id" if same_id else "new id"
                    print(f"kill {len(kills):2d}: {executor_id} holding {len(held):3d} runs, restarted ({restart})")
                    next_kill = time.monotonic() + chance.uniform(1.0, 4.0)
                    if sum(counts.get(status, 0) for status in TERMINAL) == len(run_ids):
                        # Every run had ended: give the next kill some runs to interrupt.
                        extra = len(run_ids)
                        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
                            run_ids += list(pool.map(submit, range(extra, extra + 20)))
                track_recoveries()
                time.sleep(0.2)
            track_recoveries()
            elapsed = time.monotonic() - started
            counts = statuses()
            duplicates = audit(client, stub, marker, run_ids)
            stuck = stuck_workflows(watcher, run_ids)
            gone = [line.strip() for worker in fleet.workers for line in worker.output if "is gone" in line]
        finally:
            watcher.close()
            fleet.stop()

    completed = counts.get("completed", 0)
    delays = [kill.recovery_seconds for kill in kills if kill.held]
    never = sum(delay is None for delay in delays)
    largest = max((delay for delay in delays if delay is not None), default=0.0)
    print(f"\nruns completed: {completed} of {len(run_ids)} in {elapsed:.1f} s; statuses {counts}")
    if stuck:
        print(f"unfinished runs' workflows by (executor, status, whether the executor has a row): {stuck}")
        print("takeovers the live workers logged:\n  " + "\n  ".join(gone))
    print(f"kills: {len(kills)} ({sum(kill.same_id_restart for kill in kills)} restarted under the same id), "
          f"{sum(len(kill.held) for kill in kills)} runs interrupted in all")  # fmt: skip
    print("duplicates found: " + ", ".join(f"{name} {count}" for name, count in duplicates.items()))
    print("(a request 'resent in the crash window' was answered but its answer was lost with the killed worker;")
    print(" it had not been recorded, so sending it again is the only correct move)")
    for kind, same in (("same id", True), ("new id", False)):
        times = [kill.recovery_seconds for kill in kills if kill.held and kill.same_id_restart is same]
        shown = ", ".join("never" if t is None else f"{t:.1f}" for t in times) or "none"
        print(f"recovery delays after restarts under the {kind} (s): {shown}")
    print(f"largest recovery delay: {largest:.1f} s" + (f"; {never} kills with runs that never moved" if never else ""))
    lost = completed != len(run_ids) or never
    doubled = duplicates["steps"] or duplicates["usage entries"] or duplicates["model requests"]
    sys.exit(1 if lost or doubled else 0)


if __name__ == "__main__":
    main()
