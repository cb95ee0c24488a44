"""Concurrency: 1,000 runs in flight on one worker whose model answers each request after 2 seconds.

The runs (one model request each, no tool) are created and exec'd through the services layer while no
worker is running, so they wait in the queue; then one `agentruns worker` subprocess starts with room for
all of them. It prints the wall time from the worker's start to the last run's end, the worker's peak RSS
(VmHWM) and its CPU time, and two baselines measured in the same invocation: the wall time of the same 1,000
requests sent straight to the stub at once by one asyncio client, and the floor of the agent loop itself: the
same 1,000 runs through the same Pydantic AI loop (`build_agent()` + `run_loop`, streamed as the worker streams)
in a process of their own, in memory, with no database, no DBOS and no audit trail. Targets: wall time ≤ 10 s,
RSS ≤ 1 GiB.

    .venv/bin/python -m bench.concurrency [--runs 1000] [--delay 2] [--backends postgresql,sqlite]
"""

import argparse
import asyncio
import multiprocessing
import os
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select
from tests.support.model_stub import ModelStub
from tests.support.servers import serving
from tests.support.workers import WorkerProcess
from tests.support.workspaces import reachable_directory

from agentruns.agent.deps import RunDeps
from agentruns.agent.loop import RunSpec, build_agent, run_loop, run_tool
from agentruns.collector import tuned_collector
from agentruns.engine.client import EngineClient
from agentruns.engine.sandboxes import limits_for
from agentruns.sandbox.availability import make_sandbox
from agentruns.schemas.agents import AgentCreate
from agentruns.schemas.runs import RunCreate
from agentruns.services.agents import create_agent
from agentruns.services.auth import issue_key, organization_of_key
from agentruns.services.execution import exec_run
from agentruns.services.runs import create_run
from agentruns.settings import Settings
from agentruns.storage import migrate
from agentruns.storage.database import Database
from agentruns.storage.models import Run
from bench.overhead import NullRecorder
from bench.support import TERMINAL, cpu_seconds, fresh_database

GIB = 1024**3
SHIPPED_POOL_SIZE = Settings().database_pool_size  # the test helper's small pools are for test sessions


async def queue_runs(url: str, runs: int, delay: float) -> None:
    """Create an organization, an agent and `runs` runs, and exec them all (enqueued; no worker yet)."""
    db = Database(url)
    engine = EngineClient(url)
    try:
        key = (await issue_key(db, "concurrency")).key
        org = await organization_of_key(db, Settings(database_url=url), key)
        agent = await create_agent(
            db, org, AgentCreate(name="concurrency", instructions="Answer.", model="openai-compatible/stub")
        )
        prompt = f"sleep {delay}\nreply done"
        created = [await create_run(db, org, RunCreate(agent_id=agent.id, prompt=prompt)) for _ in range(runs)]
        for run in created:
            await exec_run(db, engine, org, run.id)
    finally:
        engine.close()
        await db.dispose()


async def ended_runs(db: Database) -> int:
    """How many runs have reached a terminal status."""
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).where(Run.status.in_(TERMINAL))) or 0)


def peak_rss_bytes(pid: int) -> int:
    """The process's peak resident set size so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


async def direct_baseline(stub_url: str, runs: int, delay: float) -> float:
    """Seconds for `runs` requests sent to the stub at once, without agentruns."""
    body = {"model": "stub", "messages": [{"role": "user", "content": f"sleep {delay}\nreply done"}]}
    limits = httpx.Limits(max_connections=runs, max_keepalive_connections=runs)
    async with httpx.AsyncClient(base_url=stub_url, limits=limits, timeout=120) as client:
        started = time.monotonic()
        answers = await asyncio.gather(*(client.post("/chat/completions", json=body) for _ in range(runs)))
        took = time.monotonic() - started
    assert all(answer.status_code == 200 for answer in answers)
    return took


async def loop_in_memory(stub_url: str, runs: int, delay: float, scratch: str) -> tuple[float, float]:
    """Wall and CPU seconds of `runs` runs at once through the agent loop alone, in memory, against the stub."""
    settings = Settings(openai_compatible_base_url=stub_url, workspace_root=scratch)
    agent, sink = build_agent(), NullRecorder()
    # Never started: a run without tool calls does not use its sandbox.
    sandbox = make_sandbox(Path(scratch) / "memory", limits_for(settings, cpu=1, memory_mib=512), network=None,
                           allow_unisolated=True, bwrap=settings.bwrap_path)  # fmt: skip

    async def one(number: int) -> str:
        spec = RunSpec(run_id=f"run_memory{number}", prompt=f"sleep {delay}\nreply done", instructions="Answer.",
                       model="openai-compatible/stub", enabled_tools=None, disabled_tools=None,
                       max_model_requests=settings.max_model_requests)  # fmt: skip
        deps = RunDeps(run_id=spec.run_id, sandbox=sandbox, settings=settings, recorder=sink, tool_runner=run_tool,
                       deltas=sink)  # fmt: skip
        return (await run_loop(agent, spec, deps)).output  # pyright: ignore[reportReturnType]

    await one(-1)  # the provider's SDK is imported and its client made before the clock starts, as in a worker
    with tuned_collector():
        started, cpu = time.monotonic(), time.process_time()
        outputs = await asyncio.gather(*(one(number) for number in range(runs)))
        took, cpu_took = time.monotonic() - started, time.process_time() - cpu
    assert set(outputs) == {"done"}, set(outputs)
    return took, cpu_took


def _loop_in_memory_process(stub_url: str, runs: int, delay: float, scratch: str) -> tuple[float, float]:
    return asyncio.run(loop_in_memory(stub_url, runs, delay, scratch))


def measure(backend: str, runs: int, delay: float, stub: ModelStub, stub_url: str, scratch: Path) -> None:
    """Queue the runs, start the worker, wait for every run to end; print the figures."""
    received_before = len(stub.received)
    with fresh_database(backend, scratch) as url:
        migrate.upgrade(url)
        asyncio.run(queue_runs(url, runs, delay))
        spawned = time.monotonic()
        pools = str(SHIPPED_POOL_SIZE)
        worker = WorkerProcess(url, scratch / "ws", openai_compatible_base_url=stub_url, worker_concurrency=str(runs),
                               org_concurrency=str(runs), database_pool_size=pools, engine_pool_size=pools)  # fmt: skip
        ready, cpu_at_ready = time.monotonic(), cpu_seconds(worker.process.pid)

        async def wait_for_all() -> tuple[int, float]:
            db = Database(url)
            try:
                # Polled, as a client reading the database would; the figure's resolution is 0.25 s.
                while time.monotonic() - ready < 900:
                    if await ended_runs(db) >= runs:
                        break
                    await asyncio.sleep(0.25)
                took = time.monotonic() - ready
                async with db.read() as session:
                    completed = int(await session.scalar(select(func.count()).where(Run.status == "completed")) or 0)
                    others = (await session.execute(
                        select(Run.id, Run.status, Run.error_code, Run.error_message).where(Run.status != "completed")
                    )).all()  # fmt: skip
                for run_id, status, code, message in others[:5]:
                    print(f"  not completed: {run_id} {status} {code}: {message}")
                return completed, took
            finally:
                await db.dispose()

        try:
            completed, took = asyncio.run(wait_for_all())
            peak = peak_rss_bytes(worker.process.pid)
            cpu = cpu_seconds(worker.process.pid) - cpu_at_ready
        finally:
            worker.stop()
            for line in [line for line in worker.output if "ERROR" in line or "Error" in line][:10]:
                print(f"  worker: {line.rstrip()[:300]}")
    received = len(stub.received) - received_before  # more than one per run: the SDK retried some requests
    print(f"  {backend:<10} {completed} of {runs} runs completed in {took:.1f} s after the worker was ready "
          f"({ready - spawned:.1f} s to start); peak RSS {peak / 2**20:.0f} MiB; worker CPU "
          f"{cpu:.1f} s, {cpu / runs * 1000:.1f} ms per run; the stub received {received} requests")  # fmt: skip
    print(
        f"  {'':<10} wall time / ideal ({delay:g} s): {took / delay:.1f}x;"
        f" target ≤ 10 s: {'met' if took <= 10 else 'missed'}; RSS ≤ 1 GiB: {'met' if peak <= GIB else 'missed'}"
    )


def main() -> None:
    """Parse the options and run the benchmark on each backend."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=2.0, help="seconds the stub takes to answer")
    parser.add_argument("--backends", default="postgresql,sqlite")
    options = parser.parse_args()
    print(f"concurrency: {options.runs} runs at once on one worker, the model answering after {options.delay:g} s "
          f"(cores: {os.cpu_count()})")  # fmt: skip
    stub = ModelStub()
    with reachable_directory("agentruns-bench-") as scratch, serving(stub.app()) as stub_base:
        baseline = asyncio.run(direct_baseline(f"{stub_base}/v1", options.runs, options.delay))
        print(f"  baseline: the same {options.runs} requests straight to the stub took {baseline:.1f} s")
        # A process of its own, as the worker is (the stub serves from a thread of this one).
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            floor, floor_cpu = pool.apply(
                _loop_in_memory_process, (f"{stub_base}/v1", options.runs, options.delay, str(scratch))
            )
        print(f"  floor: the same {options.runs} runs through the agent loop alone, in memory, took {floor:.1f} s "
              f"and {floor_cpu:.1f} s of CPU, {floor_cpu / options.runs * 1000:.1f} ms per run")  # fmt: skip
        for backend in options.backends.split(","):
            measure(backend, options.runs, options.delay, stub, f"{stub_base}/v1", Path(scratch))


if __name__ == "__main__":
    main()
