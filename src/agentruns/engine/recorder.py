"""Write a run's audit trail to the database as the agent loop reports it.

Every row is numbered in the order the loop reports it. A run resumed after a crash replays the same
reports in the same order, so the numbers repeat and the idempotent inserts store nothing twice. Steps and
usage entries are also appended to the run's event log, in the same transaction and keyed the same way.
"""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic_ai.messages import ModelResponse, TextPart, ThinkingPart, ToolCallPart
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns import clock
from agentruns.agent.deps import LimitReached, TextDelta, ToolOutcome
from agentruns.agent.models import ModelRef
from agentruns.engine.cost import cost_of
from agentruns.engine.journal import Journal
from agentruns.sandbox.egress.log import network_not_recorded
from agentruns.schemas import events as payloads
from agentruns.schemas.events import UsageTotals
from agentruns.schemas.runs import StepType
from agentruns.storage.database import Database
from agentruns.storage.queries import audit, owners, run_end
from agentruns.storage.queries.progress import Progress

MAX_STORED_OUTPUT_CHARS = 100_000


def _jsonable(value: Any) -> Any:
    """A value JSON can store: itself if it serialises, else its text."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


class DatabaseRecorder:
    """The `Recorder` of one run in a worker; a run resumed after a wait continues the numbers of `progress`.

    Given the `journal` of the run's workflow execution, it writes the journal's new entries with the audit rows
    that report them: one transaction per model request or tool call makes both durable.

    With `max_cost_micros`, the model request that brings the run's cost to it raises `LimitReached` once it is
    recorded: a request's cost is known only when it has been made.

    With `owner`, each of its writes lands only while that execution owns the run's workflow, and raises DBOS's
    `DBOSWorkflowConflictIDError` once another worker has taken the workflow over (`owners.Owner`).
    """

    def __init__(
        self,
        db: Database,
        run_id: str,
        model_id: str,
        *,
        progress: Progress | None = None,
        max_cost_micros: int | None = None,
        journal: Journal | None = None,
        owner: owners.Owner | None = None,
    ) -> None:
        self.db = db
        self.journal = journal
        self.owner = owner
        self.run_id = run_id
        self.model_id = model_id
        self.max_cost_micros = max_cost_micros
        done = progress or Progress(steps=0, requests=0, logs=0, input_tokens=0, output_tokens=0, cached_tokens=0,
                                    cost_micros=0)  # fmt: skip
        self._steps = done.steps
        self._requests = done.requests
        self._logs = done.logs
        self._tool_started_at = clock.now()
        self._notes: list[dict[str, Any]] = []
        self._sandbox: dict[str, Any] = {}
        self._held_text: list[payloads.EventDraft] = []
        self._totals = UsageTotals(model_requests=done.requests, input_tokens=done.input_tokens,
                                   output_tokens=done.output_tokens, cached_tokens=done.cached_tokens,
                                   cost_micros=done.cost_micros)  # fmt: skip

    def _step(self, kind: StepType, at: datetime, **fields: Any) -> dict[str, Any]:
        self._steps += 1
        row = {"content": None, "tool_name": None, "tool_input": None, "tool_output": None, "duration_ms": None}
        return {"run_id": self.run_id, "number": self._steps, "type": kind.value, "timestamp": at, **row, **fields}

    def _log(self, stream: str, text: str, at: datetime) -> dict[str, Any]:
        self._logs += 1
        return {"run_id": self.run_id, "stream": stream, "number": self._logs, "text": text, "timestamp": at}

    def _stamped(self, stream: str, text: str, at: datetime) -> dict[str, Any]:
        """A log line of `stream`, stamped with its time."""
        return self._log(stream, f"[{at.isoformat(timespec='milliseconds')}] {text}\n", at)

    def _runner(self, text: str, at: datetime) -> dict[str, Any]:
        """A `runner` log line, stamped with its time."""
        return self._stamped("runner", text, at)

    def note_runner(self, text: str) -> None:
        """A line of what the worker did, with its time, written in the transaction of this recorder's next write.

        Saving that transaction is safe: a run resumed after a crash goes through the same code again and notes
        the same lines with the same numbers.
        """
        self._notes.append(self._runner(text, clock.now()))

    def note_runtime(self, text: str) -> None:
        """A line of what happened in the run's sandbox, written as `note_runner`'s are (tools' output is logged
        with their results)."""
        self._notes.append(self._stamped("runtime", text, clock.now()))

    async def _store(
        self,
        *,
        steps: Sequence[dict[str, Any]] = (),
        usage: Sequence[dict[str, Any]] = (),
        logs: Sequence[dict[str, Any]] = (),
        drafts: Sequence[payloads.EventDraft] = (),
        starts_at: datetime | None = None,
    ) -> bool:
        """Write these rows with the journal's new entries and what was noted, in one transaction (which, given
        `starts_at`, starts the run: False if the run was no longer queued, and nothing was written)."""
        runtime, self._sandbox = self._sandbox, {}
        notes, self._notes = self._notes, []
        journal = self.journal.take() if self.journal is not None else []
        record = audit.Record(self.run_id, journal=journal, steps=list(steps), usage=list(usage),
                              logs=[*notes, *logs], runtime=runtime, drafts=list(drafts),
                              owner=self.owner, starts_at=starts_at)  # fmt: skip
        return await audit.store(self.db, record)

    async def start(self, at: datetime) -> bool:
        """Start the run, queued → running at `at`, with the journal's new entries (the start's) and what was noted
        (the sandbox's fields and lines), in one transaction; False if the run was no longer queued (cancelled
        meanwhile): nothing was written."""
        return await self._store(drafts=[payloads.run_started(self.run_id, at)], starts_at=at)

    async def flush(self) -> None:
        """Write what was noted (sandbox fields, lines) and the journal's new entries now."""
        await self._store()

    def note_sandbox(self, **values: Any) -> None:
        """Sandbox fields of the run to set (`provider`, `runtime_id`, `runtime_state`), written as `note_runner`'s
        lines are."""
        self._sandbox |= values

    async def write_notes(self, session: AsyncSession, lines: Sequence[dict[str, Any]] = ()) -> None:
        """Write the noted sandbox fields and lines, then `lines`, in the caller's transaction (the run's end), once
        the recorder's `owner` is checked as each of its own writes checks it (`owners.hold`)."""
        await owners.hold(session, self.owner)
        if self._sandbox:
            values, self._sandbox = self._sandbox, {}
            await audit.set_runtime(session, self.run_id, **values)
        rows, self._notes = [*self._notes, *lines], []
        await audit.add_logs(session, rows)

    async def end_alone(self, values: dict[str, Any]) -> bool:
        """End the run with `values` (`run_states.completed` or `failed`) and what was noted, in one transaction on the
        step's write path, if no other run is involved (`run_end.end_alone`); False if one is, or the run had ended:
        nothing was written, and what was noted is kept for the general end (`write_notes`)."""
        ending = run_end.Ending(self.run_id, values, runtime=self._sandbox, logs=self._notes, owner=self.owner)
        if not await run_end.end_alone(self.db, ending):
            return False
        self._sandbox, self._notes = {}, []
        return True

    async def runner_log(self, text: str) -> None:
        """A line of what the worker did, with its time, written now."""
        self.note_runner(text)
        await self._store()

    async def show_sandbox(self, **values: Any) -> None:
        """Set the run's sandbox fields (`provider`, `runtime_id`, `runtime_state`) now, with the noted lines."""
        self.note_sandbox(**values)
        await self._store()

    async def model_response(self, response: ModelResponse) -> None:
        at = response.timestamp
        steps: list[dict[str, Any]] = []
        for part in response.parts:
            if isinstance(part, ThinkingPart) and part.content:
                steps.append(self._step(StepType.THINKING, at, content=part.content))
            elif isinstance(part, TextPart) and part.content:
                steps.append(self._step(StepType.OUTPUT, at, content=part.content))
            elif isinstance(part, ToolCallPart):
                steps.append(self._step(StepType.TOOL_CALL, at, tool_name=part.tool_name,
                                        tool_input=_jsonable(part.args_as_dict())))  # fmt: skip
        self._requests += 1
        usage = response.usage
        cost = cost_of(self.model_id, usage)
        entry = {
            "run_id": self.run_id,
            "number": self._requests,
            "kind": "llm",
            "service": ModelRef.parse(self.model_id).provider,
            "endpoint": response.provider_url,
            "method": "POST",
            "status_code": 200,
            "model": self.model_id,
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "cached_tokens": usage.cache_read_tokens,
            "total_tokens": usage.input_tokens + usage.output_tokens,
            "cost_micros": cost.micros,
            "metadata_": {"note": cost.note} if cost.note else None,
            "timestamp": at,
        }
        log = self._runner(
            f"model request {self._requests}: {usage.input_tokens} tokens in, {usage.output_tokens} out", at
        )
        totals = self._totals
        self._totals = UsageTotals(
            model_requests=self._requests,
            input_tokens=totals.input_tokens + usage.input_tokens,
            output_tokens=totals.output_tokens + usage.output_tokens,
            cached_tokens=totals.cached_tokens + usage.cache_read_tokens,
            cost_micros=totals.cost_micros + cost.micros,
        )
        drafts = [*self._held_text, *(payloads.step_recorded(self.run_id, step) for step in steps)]
        drafts.append(payloads.usage_recorded(self.run_id, entry, self._totals))
        self._held_text = []
        await self._store(steps=steps, usage=[entry], logs=[log], drafts=drafts)
        limit = self.max_cost_micros
        if limit is not None and self._totals.cost_micros >= limit:
            raise LimitReached(
                f"the run reached its cost limit: it has cost {self._totals.cost_micros} micro-dollars "
                f"and its maxCostMicros is {limit}"
            )

    async def model_text(self, stream: str, chunk: int, deltas: Sequence[TextDelta], *, last: bool = False) -> None:
        """Text of the model request under way (the next one `model_response` records), as `run.text.delta`; the
        `last` batch is appended with the response's record, in its transaction (one transaction less per request,
        and the only one of a short answer)."""
        drafts = [
            payloads.text_delta(model_request=self._requests + 1, stream=stream, chunk=chunk,
                                part_index=delta.part_index, kind=delta.kind, offset=delta.offset, text=delta.text)
            for delta in deltas
        ]  # fmt: skip
        if last:
            self._held_text = drafts
            return
        await audit.store(self.db, audit.Record(self.run_id, drafts=drafts, owner=self.owner))

    async def tool_call(self, call: ToolCallPart) -> None:
        # Kept for the tool's result, so that a tool call costs one transaction, not two.
        self._tool_started_at = clock.now()

    async def awaited_result(self, call: ToolCallPart, output: Any, *, since: datetime, at: datetime) -> None:
        """The result a run waited for (an answer, a child run's end), as its tool call's result."""
        self._tool_started_at = since
        waited_ms = max(0, round((at - since).total_seconds() * 1000))
        await self.tool_result(call, ToolOutcome(output=output, duration_ms=waited_ms, printed=""))

    async def tool_result(self, call: ToolCallPart, outcome: ToolOutcome) -> None:
        at = clock.now()
        duration_ms = outcome.duration_ms
        stored = _jsonable(outcome.output)
        if isinstance(stored, str) and len(stored) > MAX_STORED_OUTPUT_CHARS:
            stored = stored[:MAX_STORED_OUTPUT_CHARS] + "\n[cut]"
        step = self._step(
            StepType.TOOL_RESULT,
            at,
            tool_name=call.tool_name,
            tool_input=_jsonable(call.args_as_dict()),
            tool_output=stored,
            duration_ms=duration_ms,
        )
        started_at = self._tool_started_at
        logs = [
            self._runner(f"tool {call.tool_name} started", started_at),
            self._runner(f"tool {call.tool_name} finished in {duration_ms} ms", at),
        ]
        if outcome.printed:
            text = outcome.printed if outcome.printed.endswith("\n") else outcome.printed + "\n"
            logs.append(self._log("runtime", text, at))
        drafts = [payloads.step_recorded(self.run_id, step)]
        network = outcome.network
        for index, connection in enumerate(network.connections):
            logs.append(self._stamped("runtime", connection.line(), at))
            drafts.append(payloads.network_connection(step["number"], index, connection.as_event()))
        if network.not_recorded:
            logs.append(self._stamped("runtime", network_not_recorded(network.not_recorded), at))
        await self._store(steps=[step], logs=logs, drafts=drafts)
