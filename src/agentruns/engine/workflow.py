"""The durable run workflow: start the run, run the agent loop under its time limit, record the end.

What the run found when it started, each model request's response and each tool call's outcome are journaled
with the rows that report them (`engine/journal.py`), so a run resumed after a crash continues from its last
finished step and no finished model request is sent again; resuming and waiting are DBOS steps. A loop that
stops to wait (a question, a child run) records the wait and ends the workflow; another workflow resumes the
run (`engine/waits.py`).
"""

import asyncio
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from dbos import DBOS
from pydantic_ai.exceptions import UsageLimitExceeded
from pydantic_ai.tools import DeferredToolRequests
from sqlalchemy import Connection, Row, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns import clock
from agentruns.agent.deps import LimitReached, RunDeps
from agentruns.agent.loop import RunSpec, build_agent, run_loop
from agentruns.agent.models import MissingCredentials, check_credentials
from agentruns.engine import endings, sandboxes, waits
from agentruns.engine.children import ChildRuns
from agentruns.engine.context import current
from agentruns.engine.dbos_bridge import current_owner
from agentruns.engine.errors import failure
from agentruns.engine.journal import ENTRIES, Journal
from agentruns.engine.names import WORKFLOW_NAME
from agentruns.engine.recorder import DatabaseRecorder
from agentruns.sandbox.egress.access import NetworkAccess
from agentruns.sandbox.errors import SandboxError
from agentruns.sandbox.protocol import Sandbox
from agentruns.schemas.errors import ErrorCode
from agentruns.schemas.runs import RunStatus
from agentruns.storage.database import Database, DatabaseKind
from agentruns.storage.models import Agent, Run
from agentruns.storage.queries import pipelined, run_states
from agentruns.storage.queries import waits as stored_waits
from agentruns.storage.queries.progress import Progress, progress_of

# One agent for every run; the run's model, instructions and tools are given per run.
AGENT = build_agent()


@dataclass(frozen=True, slots=True)
class StartedRun:
    """A run as its workflow found it when it started: fixed for the life of the run (journaled when it starts, a
    DBOS step's output when it resumes)."""

    spec: RunSpec
    started_at: datetime
    time_limit_seconds: float
    sandbox_cpu: int
    sandbox_memory_mib: int
    max_cost_micros: int | None = None
    network_allow: list[str] | None = None
    """The agent's `sandbox.network.allow` (None: the deployment's default)."""
    resume: int = 0
    """0 when the run starts; N when it resumes after its wait N."""
    waited_seconds: float = 0.0
    """Time spent in the run's finished waits, which its time limit does not count."""
    progress: Progress | None = None
    """Where a resumed run's audit trail goes on from."""

    @property
    def deadline(self) -> float:
        """When the run must end, as a POSIX timestamp."""
        return self.started_at.timestamp() + self.time_limit_seconds + self.waited_seconds

    def snapshot(self) -> dict[str, Any]:
        """What the run runs, as JSON: its wait keeps it for the run's continuation."""
        data = asdict(self)
        del data["resume"], data["waited_seconds"], data["progress"]
        return data | {"started_at": self.started_at.isoformat()}

    @classmethod
    def from_snapshot(cls, data: dict[str, Any], **fields: Any) -> "StartedRun":
        """The started run a snapshot describes, with the given fields."""
        fixed = data | {"spec": RunSpec(**data["spec"]), "started_at": datetime.fromisoformat(data["started_at"])}
        return cls(**fixed, **fields)


_RUN_AND_AGENT = (
    select(
        Run.status,
        Run.started_at,
        Run.prompt,
        Run.guidance,
        Run.object_ids,
        Run.model,
        Run.max_duration_ms,
        Run.max_model_requests,
        Run.max_cost_micros,
        Agent.instructions,
        Agent.enabled_tools,
        Agent.disabled_tools,
        Agent.sandbox_cpu,
        Agent.sandbox_memory_mib,
        Agent.sandbox_network_allow,
        Agent.max_duration_ms.label("agent_max_duration_ms"),
        Agent.max_model_requests.label("agent_max_model_requests"),
        Agent.max_cost_micros.label("agent_max_cost_micros"),
    )
    .join(Agent, Agent.id == Run.agent_id)
    .where(Run.id == bindparam("run_id"))
)
"""What the start of a run reads of it and of its agent."""


def _instructions(found: Row[*tuple[Any, ...]]) -> str:
    parts = [found.instructions]
    if found.guidance:
        parts.append(f"Guidance for this run:\n{found.guidance}")
    if found.object_ids:
        parts.append("Work only with these objects: " + ", ".join(found.object_ids))
    return "\n\n".join(parts)


def _recorded_start(journal: Journal) -> StartedRun | None:
    """The start the journal of the run's first execution recorded, if any."""
    snapshot = journal.recorded_start()
    return None if snapshot is None else StartedRun.from_snapshot(snapshot)


def _found(connection: Connection, run_id: str) -> tuple[Journal, StartedRun | None, Row[*tuple[Any, ...]] | None]:
    """The journal of the run's first execution, the start it recorded if any, and if none, the run with its agent."""
    journal = Journal.read_on(connection, run_id, 0)
    recorded = _recorded_start(journal)
    if recorded is not None:
        return journal, recorded, None
    found: Row[*tuple[Any, ...]] | None = connection.execute(_RUN_AND_AGENT, {"run_id": run_id}).first()
    return journal, None, found


async def read_start(db: Database, run_id: str) -> tuple[Journal, StartedRun | None, Any]:
    """What the start of the run reads (`_found`: the journal, and the run with its agent if no start was recorded); on
    PostgreSQL both reads in one round trip, where a Core transaction took four (the run's read is wasted on a replay
    alone)."""
    if db.kind is not DatabaseKind.POSTGRESQL:
        return await db.read_core(lambda connection: _found(connection, run_id))
    entries, found = await pipelined.select_all(
        db, (ENTRIES, {"run_id": run_id, "execution": 0}), (_RUN_AND_AGENT, {"run_id": run_id})
    )
    journal = Journal(run_id, 0, {entry.number: entry.value for entry in entries})
    recorded = _recorded_start(journal)
    return journal, recorded, (found[0] if recorded is None and found else None)


async def find_start(run_id: str) -> tuple[Journal, StartedRun | None, bool]:
    """The journal of the run's first execution, what the run runs (None if it was cancelled before it started), and
    whether the run is still to be started: then the journal holds what it runs for the start's transaction
    (`DatabaseRecorder.start`). A replay finds what the execution started with (the agent may have changed since).

    Not a DBOS step: a step's two checkpoint transactions cost more than the start itself. One read without an ORM
    session (a session cost twice as much): on PostgreSQL, one round trip (`read_start`).
    """
    context = current()
    journal, recorded, found = await read_start(context.db, run_id)
    if recorded is not None:
        return journal, recorded, False
    if found is None or found.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
        return journal, None, False
    queued = found.status == RunStatus.QUEUED
    limit_ms = found.max_duration_ms or found.agent_max_duration_ms or context.settings.run_time_limit_seconds * 1000
    spec = RunSpec(
        run_id=run_id,
        prompt=found.prompt,
        instructions=_instructions(found),
        model=found.model,
        enabled_tools=found.enabled_tools,
        disabled_tools=found.disabled_tools,
        max_model_requests=found.max_model_requests or found.agent_max_model_requests
        or context.settings.max_model_requests,
    )  # fmt: skip
    started_at = clock.now() if queued or found.started_at is None else found.started_at
    started = StartedRun(spec=spec, started_at=started_at, time_limit_seconds=limit_ms / 1000,
                         sandbox_cpu=found.sandbox_cpu, sandbox_memory_mib=found.sandbox_memory_mib,
                         max_cost_micros=found.max_cost_micros or found.agent_max_cost_micros
                         or context.settings.max_cost_micros, network_allow=found.sandbox_network_allow)  # fmt: skip
    journal.keep_start(started.snapshot())
    return journal, started, queued


@DBOS.step(name="agentruns.resume")
async def resume_run(run_id: str, resume: int) -> StartedRun | None:
    """The run as it was when it started, and how far it got, to go on after its wait `resume`; None if it
    was cancelled since."""
    async with current().db.read() as session:
        run = await session.scalar(select(Run).where(Run.id == run_id))
        if run is None or run.status != RunStatus.RUNNING:
            return None
        wait = await stored_waits.get(session, run_id, resume)
        assert wait is not None
        progress = await progress_of(session, run_id)
    return StartedRun.from_snapshot(wait.started, resume=resume, waited_seconds=run.waited_ms / 1000, progress=progress)


@DBOS.step(name="agentruns.wait")
async def wait_for(run_id: str, started: StartedRun, requests: DeferredToolRequests, messages: list[Any]) -> bool:
    """Record the run's wait for `requests`; False if the run was cancelled meanwhile."""
    context = current()
    return await waits.record_wait(
        context.db, context.engine, run_id=run_id, number=started.resume + 1, started=started.snapshot(),
        messages=messages, requests=requests, limit_seconds=context.settings.wait_time_limit_seconds,
    )  # fmt: skip


async def _end(recorder: DatabaseRecorder, code: ErrorCode, message: str, *, timed_out: bool = False) -> None:
    """End the run as failed (or timed out), its noted log lines written in the same transaction."""
    context, run_id = current(), recorder.run_id
    if await recorder.end_alone(run_states.failed(clock.now(), code.value, message, timed_out=timed_out)):
        return

    async def fail(session: AsyncSession) -> Run | None:
        await recorder.write_notes(session)
        return await run_states.fail(session, run_id, clock.now(), code.value, message, timed_out=timed_out)

    await endings.ending(context.db, context.engine, run_id, fail)


async def _fail(recorder: DatabaseRecorder, exc: Exception) -> str:
    code, message = failure(exc)
    recorder.note_runner(f"failed: {type(exc).__name__}: {exc}")
    await _end(recorder, code, message)
    return RunStatus.FAILED


async def _set_up(
    recorder: DatabaseRecorder, started: StartedRun, network: NetworkAccess | None, *, starts: bool
) -> Sandbox | str:
    """Start the run's sandbox and show it: in the transaction that starts the run, if it `starts`; alone for a
    replay or a resumed run. The sandbox, or the status to return if the run cannot go on: skipped, if it was
    cancelled meanwhile; failed, without its model's credentials or a sandbox."""
    context, spec = current(), started.spec
    sandbox: Sandbox | None = None
    failed: tuple[ErrorCode, str] | None = None
    try:
        check_credentials(spec.model, context.settings)
        sandbox = await sandboxes.start_sandbox(context.settings, recorder, cpu=started.sandbox_cpu,
                                                memory_mib=started.sandbox_memory_mib, network=network)  # fmt: skip
    except MissingCredentials as exc:
        recorder.note_runner(f"failed: {exc}")
        failed = ErrorCode.AUTHORIZATION_ERROR, str(exc)
    except SandboxError as exc:
        recorder.note_runner(f"failed: the sandbox could not start: {exc}")
        failed = ErrorCode.INTERNAL_ERROR, f"the run's sandbox could not start: {exc}"
    if sandbox is not None:
        recorder.note_runner(f"started on worker {context.executor_id} with model {spec.model}")
    try:
        if starts:  # the run's start shows its sandbox, or how it failed, in the same transaction
            if not await recorder.start(started.started_at):
                if sandbox is not None:
                    await sandboxes.discard_sandbox(sandbox)
                return "skipped"
        else:
            await recorder.flush()
    except BaseException:  # the write failed, or another worker took the run over: the workspace is left to it
        if sandbox is not None:
            await sandbox.stop()
        raise
    if failed is not None:
        await _end(recorder, *failed)
        return RunStatus.FAILED
    assert sandbox is not None
    return sandbox


@DBOS.workflow(name=WORKFLOW_NAME)
async def run_workflow(run_id: str, resume: int = 0) -> str:
    """Execute one run from its start (or, given `resume`, from its wait `resume`) to its end or its next wait;
    returns the run's status then."""
    context = current()
    starts = False
    if resume:
        journal = await Journal.load(context.db, run_id, resume)
        started = await resume_run(run_id, resume)
    else:
        journal, started, starts = await find_start(run_id)
    if started is None:
        return "skipped"
    spec = started.spec
    # The recorder's writes check this execution's claim of its workflow (`owners.Owner`).
    recorder = DatabaseRecorder(context.db, run_id, spec.model, progress=started.progress,
                                max_cost_micros=started.max_cost_micros, journal=journal,
                                owner=current_owner())  # fmt: skip
    resumption = None
    if resume:
        assert started.progress is not None
        resumption = await waits.resumption(context.db, recorder, run_id, resume, started.progress.requests)
    try:
        network = sandboxes.network_for(context.settings, started.network_allow)
    except SandboxError as exc:
        network = None
        recorder.note_runner(f"network off: {exc}")
    sandbox = await _set_up(recorder, started, network, starts=starts)
    if isinstance(sandbox, str):
        return sandbox
    children = ChildRuns(context.db, context.engine, run_id=run_id, resume=resume,
                         max_depth=context.settings.max_run_depth)  # fmt: skip
    deps = RunDeps(run_id=run_id, sandbox=sandbox, settings=context.settings, recorder=recorder,
                   tool_runner=journal.tool_call, model_runner=journal.model_request, deltas=recorder,
                   children=children, network=network)  # fmt: skip
    task = asyncio.current_task()
    assert task is not None
    context.running[run_id] = task  # pyright: ignore[reportArgumentType]
    time_limit = asyncio.timeout(max(0.0, started.deadline - clock.now().timestamp()))
    try:
        # One tool call at a time, so that a replay meets them, and numbers their journal entries, in order.
        with AGENT.parallel_tool_call_execution_mode("sequential"):
            async with sandboxes.closing(sandbox, context, recorder) as lease, time_limit:
                result = await run_loop(AGENT, spec, deps, resumption)
                lease.run_ends = not isinstance(result.output, DeferredToolRequests)
    except TimeoutError as exc:
        if not time_limit.expired():  # a TimeoutError from inside the loop is a failure, not the time limit
            return await _fail(recorder, exc)
        limit = started.time_limit_seconds
        recorder.note_runner(f"stopped: the run exceeded its time limit of {limit:g} s")
        await _end(recorder, ErrorCode.TIMEOUT, f"the run exceeded its time limit of {limit:g} s", timed_out=True)
        return RunStatus.TIMEOUT
    except UsageLimitExceeded as exc:  # the only usage limit the loop is given is the request limit
        message = f"the run reached its limit of {spec.max_model_requests} model requests (maxModelRequests)"
        recorder.note_runner(f"stopped: {message} ({exc})")
        await _end(recorder, ErrorCode.RATE_LIMIT_EXCEEDED, message)
        return RunStatus.FAILED
    except LimitReached as exc:
        recorder.note_runner(f"stopped: {exc}")
        await _end(recorder, ErrorCode.RATE_LIMIT_EXCEEDED, str(exc))
        return RunStatus.FAILED
    except asyncio.CancelledError:
        # Either the run was cancelled, or this worker is stopping and another will resume the run.
        if run_id in context.cancelled:
            context.cancelled.discard(run_id)
            await recorder.runner_log("cancelled: the run's processes were stopped")
        raise
    except Exception as exc:
        return await _fail(recorder, exc)
    finally:
        # A workflow taken over from this worker while it stalled may be running here again, under a new task.
        if context.running.get(run_id) is task:
            del context.running[run_id]
    output = result.output
    if isinstance(output, DeferredToolRequests):
        awaited = ", ".join(f"{call.tool_name} {call.tool_call_id}" for call in output.calls)
        await recorder.runner_log(f"waiting for {awaited}; the worker is free until it can go on")
        waiting = await wait_for(run_id, started, output, result.all_messages())
        return RunStatus.WAITING if waiting else RunStatus.CANCELLED

    recorder.note_runner("completed")
    if await recorder.end_alone(run_states.completed(clock.now(), output)):
        return RunStatus.COMPLETED

    async def complete(session: AsyncSession) -> Run | None:
        await recorder.write_notes(session)
        return await run_states.complete(session, run_id, clock.now(), output)

    await endings.ending(context.db, context.engine, run_id, complete)
    return RunStatus.COMPLETED
