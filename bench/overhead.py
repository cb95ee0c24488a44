"""(a) Durable overhead per step: a scripted run through a real worker, against the same loop in memory.

The durable side starts `agentruns.engine.worker.Worker` in this process on a fresh database and creates
and execs each run through the services layer, as the API does; the in-memory side runs the same
Pydantic AI agent (`build_agent()` + `run_loop`) with tools run by `run_tool` and a recorder that does
nothing: no database, no DBOS, no audit trail. A third, diagnostic, variant runs the in-memory loop with
the worker's `DatabaseRecorder`, to split the overhead between the audit trail and the rest (DBOS steps,
the workflow's own writes, the queue). The three alternate within each repetition, all in the worker's
process, so that a load that comes and goes on the machine weighs on each of them alike.
"""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic_ai import Agent
from pydantic_ai.messages import ModelResponse, ToolCallPart, ToolReturnPart

from agentruns.agent.deps import Recorder, RunDeps, TextDelta, ToolOutcome
from agentruns.agent.loop import DEFAULT_MODEL_ID, RunOutput, RunSpec, build_agent, run_loop, run_tool
from agentruns.engine.client import EngineClient
from agentruns.engine.recorder import DatabaseRecorder
from agentruns.engine.sandboxes import limits_for
from agentruns.engine.worker import Worker
from agentruns.sandbox.availability import make_sandbox
from agentruns.schemas.agents import AgentCreate
from agentruns.schemas.runs import RunCreate, StepType
from agentruns.services import agents, execution, runs
from agentruns.services.auth import issue_key
from agentruns.settings import Settings
from agentruns.storage import migrate
from agentruns.storage.database import Database
from bench.support import TERMINAL, scripted_prompt

INSTRUCTIONS = "You help."
# Only to learn that the run ended (its times come from the run itself), and seldom: the poll shares the worker's
# process and would otherwise weigh on what it measures.
STATUS_POLL_SECONDS = 0.25
RUN_TIMEOUT_SECONDS = 120.0


class NullRecorder:
    """A recorder that records nothing, and a sink for streamed text that keeps none."""

    async def model_text(self, stream: str, chunk: int, deltas: Sequence[TextDelta], *, last: bool = False) -> None:
        return None

    async def model_response(self, response: ModelResponse) -> None:
        return None

    async def tool_call(self, call: ToolCallPart) -> None:
        return None

    async def tool_result(self, call: ToolCallPart, outcome: ToolOutcome) -> None:
        return None


@dataclass
class Times:
    """Per repetition, in ms: the in-memory loop; the durable run as it recorded itself (startedAt →
    completedAt) and from the exec call to its terminal status (completedAt); the in-memory loop writing the
    audit trail (no DBOS); and the CPU time this process spent on each (durable: from the exec call until the
    end was seen). `steps` is what one run made: every model request and every tool call."""

    steps: int = 0
    memory_ms: list[float] = field(default_factory=list[float])
    recorded_ms: list[float] = field(default_factory=list[float])
    end_to_end_ms: list[float] = field(default_factory=list[float])
    audit_only_ms: list[float] = field(default_factory=list[float])
    memory_cpu_ms: list[float] = field(default_factory=list[float])
    durable_cpu_ms: list[float] = field(default_factory=list[float])
    audit_only_cpu_ms: list[float] = field(default_factory=list[float])


async def _loop_once(
    agent: Agent[RunDeps, RunOutput],
    run_id: str,
    tool_calls: int,
    workspace: Path,
    settings: Settings,
    recorder: Recorder,
) -> tuple[float, float, int]:
    """Run the scripted loop in this task without DBOS; its wall and CPU times in ms, and the steps it made."""
    spec = RunSpec(run_id=run_id, prompt=scripted_prompt(tool_calls), instructions=INSTRUCTIONS,
                   model=DEFAULT_MODEL_ID, enabled_tools=None, disabled_tools=None,
                   max_model_requests=settings.max_model_requests)  # fmt: skip
    # Started before the clock, as a durable run's sandbox is started before its loop.
    sandbox = make_sandbox(workspace, limits_for(settings, cpu=1, memory_mib=512), network=None,
                           allow_unisolated=settings.allow_unisolated_sandbox, bwrap=settings.bwrap_path)  # fmt: skip
    await sandbox.start()
    deps = RunDeps(run_id=run_id, sandbox=sandbox, settings=settings, recorder=recorder, tool_runner=run_tool)
    started, cpu = time.perf_counter(), time.process_time()
    result = await run_loop(agent, spec, deps)
    elapsed_ms, cpu_ms = (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000
    await sandbox.stop()
    messages = result.all_messages()
    requests = sum(isinstance(message, ModelResponse) for message in messages)
    calls = sum(isinstance(part, ToolReturnPart) for message in messages for part in message.parts)
    if calls != tool_calls or result.output != "done":
        raise RuntimeError(f"the in-memory run made {calls} tool calls and answered {result.output!r}")
    return elapsed_ms, cpu_ms, requests + calls


async def _wait_until_terminal(db: Database, org_id: str, run_id: str) -> None:
    deadline = time.perf_counter() + RUN_TIMEOUT_SECONDS
    while (await runs.run_status(db, org_id, run_id)).status not in TERMINAL:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"run {run_id} did not end within {RUN_TIMEOUT_SECONDS:g} s")
        await asyncio.sleep(STATUS_POLL_SECONDS)


async def measure(database_url: str, tool_calls: int, repeats: int, workspace_root: Path) -> Times:
    """Start a worker in this process on the database, then `repeats` times (after one warm-up round, not
    counted) run the loop in memory, the durable run, and the loop with the audit trail, one after the other,
    so that the three see the same conditions on a shared machine."""
    await asyncio.to_thread(migrate.upgrade, database_url)
    settings = Settings(
        database_url=database_url,
        api_key=None,
        workspace_root=str(workspace_root),
        max_model_requests=max(Settings().max_model_requests, tool_calls + 1),
    )
    worker = Worker(settings)
    await worker.start()
    db = Database(database_url)
    engine = EngineClient(database_url)
    times = Times()
    plain = build_agent()
    try:
        org_id = (await issue_key(db, "bench")).org_id
        agent = await agents.create_agent(
            db, org_id, AgentCreate(name="bench", instructions=INSTRUCTIONS, model=DEFAULT_MODEL_ID)
        )
        create = RunCreate(agent_id=agent.id, prompt=scripted_prompt(tool_calls))
        memory_workspace = workspace_root / "memory"
        memory_workspace.mkdir(parents=True, exist_ok=True)
        for repetition in range(repeats + 1):
            counted = repetition > 0
            memory_ms, memory_cpu_ms, times.steps = await _loop_once(
                plain, f"run_memory{repetition}", tool_calls, memory_workspace, settings, NullRecorder()
            )
            recorded_ms, end_to_end_ms, durable_cpu_ms = await _durable_once(db, engine, org_id, create, tool_calls)
            run = await runs.create_run(db, org_id, create)  # never exec'd: it only owns the audit rows
            workspace = workspace_root / run.id
            workspace.mkdir(parents=True, exist_ok=True)
            recorder = DatabaseRecorder(db, run.id, DEFAULT_MODEL_ID)
            audit_only_ms, audit_only_cpu_ms, _ = await _loop_once(plain, run.id, tool_calls, workspace, settings,
                                                                   recorder)  # fmt: skip
            if counted:
                times.memory_ms.append(memory_ms)
                times.recorded_ms.append(recorded_ms)
                times.end_to_end_ms.append(end_to_end_ms)
                times.audit_only_ms.append(audit_only_ms)
                times.memory_cpu_ms.append(memory_cpu_ms)
                times.durable_cpu_ms.append(durable_cpu_ms)
                times.audit_only_cpu_ms.append(audit_only_cpu_ms)
    finally:
        engine.close()
        await db.dispose()
        await worker.stop()
    return times


async def _durable_once(
    db: Database, engine: EngineClient, org_id: str, create: RunCreate, tool_calls: int
) -> tuple[float, float, float]:
    """Create and exec one run through the services, wait for its end, check its audit trail; its times in ms:
    startedAt → completedAt, the exec call → completedAt, and this process's CPU until the end was seen."""
    run = await runs.create_run(db, org_id, create)
    exec_called, cpu = time.time(), time.process_time()
    await execution.exec_run(db, engine, org_id, run.id)
    await _wait_until_terminal(db, org_id, run.id)
    cpu_ms = (time.process_time() - cpu) * 1000
    details = await runs.run_details(db, org_id, run.id)
    results = sum(step.type is StepType.TOOL_RESULT for step in details.steps)
    if details.status != "completed" or results != tool_calls or len(details.usage.entries) != tool_calls + 1:
        raise RuntimeError(
            f"run {run.id} ended {details.status} with {results} tool results and "
            f"{len(details.usage.entries)} model requests: {details.error}"
        )
    assert details.started_at is not None
    assert details.completed_at is not None
    recorded_ms = (details.completed_at - details.started_at).total_seconds() * 1000
    return recorded_ms, (details.completed_at.timestamp() - exec_called) * 1000, cpu_ms
