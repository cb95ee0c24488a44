"""A workflow execution's journal: what its model requests and tool calls returned, so that a replay after a crash
returns the same results without sending a finished request or running a finished tool call again.

Each result is written in the transaction of the audit rows that report it (`engine/recorder.py` takes the
journal's pending rows), so one commit per model request or tool call makes it both durable and visible. A
crash before that commit loses both, and the replay makes the request again, as it would with a DBOS step
whose checkpoint had not committed. The agent loop runs tool calls one at a time in a durable run, so a replay
reaches its requests and calls in the same order and numbers them alike.

Entries are JSON text, one object with one key that names the kind of result: `start` (what the execution found
when it began, `StartedRun.snapshot`), `response` (a `ModelResponse` as `ModelMessagesTypeAdapter` writes it),
`outcome` (a `ToolOutcome` as plain data) or `raised` (what a tool call raised, as plain data: `Raised`).
"""

import json
import logging
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any, cast

from pydantic import ConfigDict, TypeAdapter
from pydantic_ai.exceptions import ApprovalRequired, CallDeferred, ToolFailedError, ToolRetryError
from pydantic_ai.messages import (
    ModelMessagesTypeAdapter,
    ModelRequestPart,
    ModelResponse,
    RetryFeedbackPart,
    ToolCallPart,
    ToolReturnPart,
)
from sqlalchemy import Connection, bindparam, select

from agentruns.agent.deps import ModelRequest, RunDeps, ToolHandler, ToolOutcome
from agentruns.agent.loop import run_tool
from agentruns.sandbox.egress import log as egress
from agentruns.storage.database import Database
from agentruns.storage.models import JournalEntry

log = logging.getLogger("agentruns.journal")

START = 0
"""The number of the entry that holds what the execution found when it began (`engine/workflow.py`); its model
requests and tool calls are numbered from 1."""

# A request part alone, with the bytes encoding `ModelMessagesTypeAdapter` uses for whole messages.
_PARTS: TypeAdapter[ModelRequestPart] = TypeAdapter(
    ModelRequestPart, config=ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")
)


@dataclass(frozen=True, slots=True)
class Raised:
    """A tool call that raised: its replay raises the exception again (`replayed_error` says which)."""

    error: Exception


class ReplayedError(Exception):
    """What a replay raises in place of a journaled exception that JSON cannot rebuild: its class bears the name of
    the original's (`type(error).__name__`) and `str(error)` is the original's, so that the run reports it alike;
    `except` clauses for the original's class do not catch it."""


@dataclass(frozen=True, slots=True)
class Start:
    """The entry `START`: what the execution found when it began, as `StartedRun.snapshot` gives it."""

    snapshot: dict[str, Any]


Entry = Start | ModelResponse | ToolOutcome | Raised
"""What an entry holds."""


@cache
def _replayed_class(name: str) -> type[ReplayedError]:
    return cast(type[ReplayedError], type(name, (ReplayedError,), {"__module__": __name__}))


def error_data(error: Exception) -> dict[str, Any]:
    """A raised exception as plain data: its class name and message, and the part that Pydantic AI turns a
    `ToolFailedError` or a `ToolRetryError` into (the tool's failure or retry request as the model sees it)."""
    data: dict[str, Any] = {"type": type(error).__name__, "message": str(error)}
    if isinstance(error, ToolFailedError):
        data["tool_failed"] = _PARTS.dump_python(error.tool_failed, mode="json")
    elif isinstance(error, ToolRetryError):
        data["tool_retry"] = _PARTS.dump_python(error.tool_retry, mode="json")
    return data


def replayed_error(data: dict[str, Any]) -> Exception:
    """The exception a replay raises for `error_data`: a `ToolFailedError` or `ToolRetryError` with its part, as
    the tool call raised it; any other class, a `ReplayedError` of the same name and message."""
    if "tool_failed" in data:
        failed = _PARTS.validate_python(data["tool_failed"])
        assert isinstance(failed, ToolReturnPart)
        return ToolFailedError(failed)
    if "tool_retry" in data:
        retry = _PARTS.validate_python(data["tool_retry"])
        assert isinstance(retry, ToolReturnPart | RetryFeedbackPart)
        return ToolRetryError(retry)
    return _replayed_class(data["type"])(data["message"])


def _outcome_data(outcome: ToolOutcome) -> dict[str, Any]:
    network = {"connections": [asdict(each) for each in outcome.network.connections],
               "not_recorded": outcome.network.not_recorded}  # fmt: skip
    return {"output": outcome.output, "duration_ms": outcome.duration_ms, "printed": outcome.printed,
            "network": network}  # fmt: skip


def _outcome(data: dict[str, Any]) -> ToolOutcome:
    network = data["network"]
    taken = egress.Taken(tuple(egress.Connection(**each) for each in network["connections"]), network["not_recorded"])
    return ToolOutcome(output=data["output"], duration_ms=data["duration_ms"], printed=data["printed"], network=taken)


def encode(entry: Entry) -> str:
    """The entry as JSON text.

    Raises:
        TypeError: A tool's output is not made of JSON values (dicts with string keys, lists, strings, numbers,
            booleans, None; a tuple is written as a list).
        ValueError: It holds a float that JSON has no number for (NaN, an infinity).
    """
    if isinstance(entry, Start):
        data: dict[str, Any] = {"start": entry.snapshot}
    elif isinstance(entry, ModelResponse):
        data = {"response": ModelMessagesTypeAdapter.dump_python([entry], mode="json")[0]}
    elif isinstance(entry, ToolOutcome):
        data = {"outcome": _outcome_data(entry)}
    else:
        data = {"raised": error_data(entry.error)}
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def decode(text: str) -> Entry:
    """The entry that `encode` wrote as `text`."""
    data: dict[str, Any] = json.loads(text)
    if "start" in data:
        return Start(data["start"])
    if "response" in data:
        response = ModelMessagesTypeAdapter.validate_python([data["response"]])[0]
        assert isinstance(response, ModelResponse)
        return response
    if "outcome" in data:
        return _outcome(data["outcome"])
    return Raised(replayed_error(data["raised"]))


ENTRIES = select(JournalEntry.number, JournalEntry.value).where(
    JournalEntry.run_id == bindparam("run_id"), JournalEntry.execution == bindparam("execution")
)
"""The entries (`number`, `value`) of the journal of execution `execution` of the run `run_id`."""


class Journal:
    """The journal of execution `execution` of a run, with the results an earlier attempt at it recorded (entries
    as `encode` writes them, by number)."""

    def __init__(self, run_id: str, execution: int, recorded: dict[int, str] | None = None) -> None:
        self.run_id = run_id
        self.execution = execution
        self._recorded = recorded or {}
        self._number = 0
        self._pending: list[dict[str, Any]] = []

    @classmethod
    async def load(cls, db: Database, run_id: str, execution: int) -> "Journal":
        """The execution's journal as stored: empty when the execution starts, its results so far on a replay."""
        return await db.read_core(lambda connection: cls.read_on(connection, run_id, execution))

    @classmethod
    def read_on(cls, connection: Connection, run_id: str, execution: int) -> "Journal":
        """`load`, on the caller's Core connection (`Database.read_core`)."""
        rows = connection.execute(ENTRIES, {"run_id": run_id, "execution": execution})
        return cls(run_id, execution, {number: value for number, value in rows})

    def recorded_start(self) -> dict[str, Any] | None:
        """What the execution found when it began, as an earlier attempt recorded it (`keep_start`); None if none
        did."""
        entry = self._entry(START)
        return entry.snapshot if isinstance(entry, Start) else None

    def keep_start(self, snapshot: dict[str, Any]) -> None:
        """Record what the execution found when it began (JSON values: `StartedRun.snapshot`), for the caller's
        transaction (`take`)."""
        self._keep(START, Start(snapshot))

    def take(self) -> list[dict[str, Any]]:
        """The rows of the results not written yet, for the caller's transaction (`JournalEntry`)."""
        rows, self._pending = self._pending, []
        return rows

    async def model_request(self, request: ModelRequest) -> ModelResponse:
        """The response to the next model request: the recorded one on a replay, else the model's."""
        number, recorded = self._next()
        if isinstance(recorded, ModelResponse):
            return recorded
        response = await request()
        self._keep(number, response)
        return response

    async def tool_call(self, call: ToolCallPart, deps: RunDeps, handler: ToolHandler) -> ToolOutcome:
        """The outcome of the next tool call: the recorded one on a replay (or its exception again, as
        `replayed_error` rebuilds it), else run."""
        number, recorded = self._next()
        if isinstance(recorded, Raised):
            raise recorded.error
        if isinstance(recorded, ToolOutcome):
            return recorded
        try:
            outcome = await run_tool(call, deps, handler)
        except (CallDeferred, ApprovalRequired):
            raise  # the run waits for this call; a replay asks again, which makes nothing twice (engine/children.py)
        except Exception as exc:
            self._keep(number, Raised(exc))
            raise
        self._keep(number, outcome)
        return outcome

    def _next(self) -> tuple[int, Entry | None]:
        self._number += 1
        return self._number, self._entry(self._number)

    def _entry(self, number: int) -> Entry | None:
        value = self._recorded.get(number)
        return None if value is None else decode(value)

    def _keep(self, number: int, entry: Entry) -> None:
        try:
            value = encode(entry)
        except Exception as exc:  # an output JSON cannot hold, an unprintable error: a replay runs its call again
            log.warning("run %s: result %d is not kept for replays: %s", self.run_id, number, exc)
            return
        self._pending.append({"run_id": self.run_id, "execution": self.execution, "number": number, "value": value})
