"""The CPU that each of a run's own transactions costs the worker's process (and PostgreSQL's server), against a
trivial transaction.

(b) of `bench.execution` cannot see a change of a millisecond per run on this shared machine: two of its runs differ
by 30%. This one measures each transaction a worker makes for a run of (b)'s shape, one at a time in this process,
on a fresh SQLite file and a fresh PostgreSQL database: the start's read, the run's start with its sandbox, a model
response's record, a tool result's record, the end of a run alone, and the general end (a run with a parent or
children, a cancel).
The baseline is a write transaction of one `SELECT 1` on the same write path. The measures take turns, a batch of
each per round, so that a load that comes and goes weighs on all alike; it prints the median of the rounds. On
PostgreSQL it prints the server's CPU per transaction too (all its processes, read from /proc: other databases' work
counts, and the clock's 10 ms ticks make a batch of fewer than ~200 coarse).

    .venv/bin/python -m bench.transactions [--rounds 5] [--runs 60] [--backends sqlite,postgresql]
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart
from pydantic_ai.usage import RequestUsage
from sqlalchemy import bindparam, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns import clock
from agentruns.agent.deps import ToolOutcome
from agentruns.engine import endings
from agentruns.engine.client import EngineClient
from agentruns.engine.names import workflow_id_for
from agentruns.engine.recorder import DatabaseRecorder
from agentruns.engine.workflow import read_start
from agentruns.schemas.agents import AgentCreate
from agentruns.schemas.runs import RunCreate
from agentruns.services import agents, execution, runs
from agentruns.services.auth import issue_key
from agentruns.storage import migrate
from agentruns.storage.database import Database, DatabaseKind
from agentruns.storage.dbos_tables import tables_of
from agentruns.storage.models import Run
from agentruns.storage.queries import owners, run_states
from bench.support import BACKENDS, fresh_database, postgres_cpu_seconds

MODEL = "offline/scripted"
CALL = ToolCallPart(tool_name="write", args={"path": "bench.txt", "content": "x"}, tool_call_id="call_1")


OWNER_TOKEN = "bench"  # noqa: S105 (a claim token, no secret)
"""The claim of each run's workflow that its records carry, as a worker's do (`owners.Owner`)."""


def _recorder(db: Database, run_id: str) -> DatabaseRecorder:
    return DatabaseRecorder(db, run_id, MODEL, owner=owners.Owner(workflow_id_for(run_id), OWNER_TOKEN))


async def _start(db: Database, run_id: str) -> None:
    """The run's start with its sandbox's fields and lines, as `engine/workflow.py` writes it."""
    recorder = _recorder(db, run_id)
    recorder.note_runtime("sandbox bubblewrap started: 1 cpu, 1024 MiB memory")
    recorder.note_sandbox(provider="bubblewrap", runtime_id=run_id, runtime_state="running")
    recorder.note_runner("started on worker bench with model offline/scripted")
    assert await recorder.start(clock.now())


async def _model_response(db: Database, run_id: str) -> None:
    usage = RequestUsage(input_tokens=120, output_tokens=30)
    response = ModelResponse(parts=[TextPart("Writing it."), CALL], usage=usage, model_name="scripted")
    await _recorder(db, run_id).model_response(response)


async def _tool_result(db: Database, run_id: str) -> None:
    await _recorder(db, run_id).tool_result(CALL, ToolOutcome(output="wrote 1 byte", duration_ms=1, printed=""))


def _ending_recorder(db: Database, run_id: str) -> DatabaseRecorder:
    recorder = _recorder(db, run_id)
    recorder.note_runtime("sandbox stopped; the workspace is kept for 3600 s")
    recorder.note_sandbox(runtime_state="archived")
    recorder.note_runner("completed")
    return recorder


async def _end_alone(db: Database, run_id: str) -> None:
    assert await _ending_recorder(db, run_id).end_alone(run_states.completed(clock.now(), "done"))


def _general_end(engine: EngineClient) -> Callable[[Database, str], Awaitable[None]]:
    async def end(db: Database, run_id: str) -> None:
        recorder = _ending_recorder(db, run_id)

        async def complete(session: AsyncSession) -> Run | None:
            await recorder.write_notes(session)
            return await run_states.complete(session, run_id, clock.now(), "done")

        assert await endings.ending(db, engine, run_id, complete)

    return end


async def _start_read(db: Database, run_id: str) -> None:
    assert (await read_start(db, run_id))[2] is not None


async def _baseline(db: Database, run_id: str) -> None:
    await db.write_core(lambda connection: connection.execute(text("SELECT 1")))


@dataclass(frozen=True, slots=True)
class Cost:
    """A measure's median CPU per transaction, in ms: this process's, and PostgreSQL's server's (None on SQLite)."""

    process_ms: float
    server_ms: float | None


async def measure(url: str, rounds: int, runs_per_round: int) -> dict[str, Cost]:
    """The median over the rounds of each measure's CPU per transaction."""
    await asyncio.to_thread(migrate.upgrade, url)
    db, engine = Database(url), EngineClient(url)
    org_id = (await issue_key(db, "bench")).org_id
    agent = await agents.create_agent(db, org_id, AgentCreate(name="bench", instructions="You help.", model=MODEL))

    async def new_runs(started: bool) -> list[str]:
        """Runs exec'd, their workflows claimed as a worker claims them (no worker runs here)."""
        body = RunCreate.model_validate({"agentId": agent.id, "prompt": "p"})
        created = [(await runs.create_run(db, org_id, body)).id for _ in range(runs_per_round)]
        for run_id in created:
            await execution.exec_run(db, engine, org_id, run_id)
        async with db.write() as session:
            table = tables_of(session).workflow_status
            claim = update(table).where(table.c.workflow_uuid == bindparam("id"))
            claim = claim.values(status="PENDING", owner_xid=OWNER_TOKEN)
            await session.execute(claim, [{"id": workflow_id_for(run_id)} for run_id in created])
        if started:
            for run_id in created:
                await _start(db, run_id)
        return created

    # Each measure, and whether it needs started runs (a fresh batch per round: an end ends a run once).
    measures: dict[str, tuple[Callable[[Database, str], Awaitable[None]], bool]] = {
        "baseline: a write of SELECT 1": (_baseline, False),
        "the start's read": (_start_read, False),
        "the start with its sandbox": (_start, False),
        "a model response's record": (_model_response, True),
        "a tool result's record": (_tool_result, True),
        "the end of a run alone": (_end_alone, True),
        "the general end": (_general_end(engine), True),
    }
    on_postgresql = db.kind is DatabaseKind.POSTGRESQL
    samples: dict[str, list[float]] = {name: [] for name in measures}
    server_samples: dict[str, list[float]] = {name: [] for name in measures}
    try:
        for _ in range(rounds):
            for name, (transaction, started) in measures.items():
                run_ids = await new_runs(started)
                before, server_before = time.process_time(), postgres_cpu_seconds() if on_postgresql else None
                for run_id in run_ids:
                    await transaction(db, run_id)
                samples[name].append((time.process_time() - before) * 1000 / len(run_ids))
                if server_before is not None and (server_after := postgres_cpu_seconds()) is not None:
                    server_samples[name].append((server_after - server_before) * 1000 / len(run_ids))
    finally:
        await db.dispose()
    return {
        name: Cost(statistics.median(values), statistics.median(server_samples[name]) if server_samples[name] else None)
        for name, values in samples.items()
    }


def main() -> None:
    """Parse the options, measure on each database, print."""
    parser = argparse.ArgumentParser(prog="python -m bench.transactions", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=60, help="transactions of each measure per round [60]")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    options = parser.parse_args()
    print(f"CPU of this process per transaction, median of {options.rounds} rounds of {options.runs}")
    for backend in options.backends.split(","):
        with tempfile.TemporaryDirectory() as directory, fresh_database(backend, Path(directory)) as url:
            medians = asyncio.run(measure(url, options.rounds, options.runs))
        baseline = next(iter(medians.values()))
        print(f"  {backend}:")
        for name, cost in medians.items():
            ratio = cost.process_ms / baseline.process_ms
            line = f"    {name:<32} {cost.process_ms:6.2f} ms  ({ratio:4.1f}× the baseline)"
            if cost.server_ms is not None and baseline.server_ms:
                line += f"   server {cost.server_ms:5.2f} ms ({cost.server_ms / baseline.server_ms:4.1f}×)"
            print(line)


if __name__ == "__main__":
    main()
