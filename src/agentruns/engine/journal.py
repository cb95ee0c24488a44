"""A workflow execution's journal: what its model requests and tool calls returned, so that a replay after a crash
returns the same results without sending a finished request or running a finished tool call again.

Each result is written in the transaction of the audit rows that report it (`engine/recorder.py` takes the
journal's pending rows), so one commit per model request or tool call makes it both durable and visible. A
crash before that commit loses both, and the replay makes the request again, as it would with a DBOS step
whose checkpoint had not committed. The agent loop runs tool calls one at a time in a durable run, so a replay
reaches its requests and calls in the same order and numbers them alike.
"""

import logging
import pickle
from dataclasses import dataclass
from typing import Any

from pydantic_ai.exceptions import ApprovalRequired, CallDeferred
from pydantic_ai.messages import ModelResponse, ToolCallPart
from sqlalchemy import Connection, bindparam, select

from agentruns.agent.deps import ModelRequest, RunDeps, ToolHandler, ToolOutcome
from agentruns.agent.loop import run_tool
from agentruns.storage.database import Database
from agentruns.storage.models import JournalEntry

log = logging.getLogger("agentruns.journal")

START = 0
"""The number of the entry that holds what the execution found when it began (`engine/workflow.py`); its model
requests and tool calls are numbered from 1."""


@dataclass(frozen=True, slots=True)
class Raised:
    """A tool call that raised: its replay raises the same exception."""

    error: BaseException


ENTRIES = select(JournalEntry.number, JournalEntry.value).where(
    JournalEntry.run_id == bindparam("run_id"), JournalEntry.execution == bindparam("execution")
)
"""The entries (`number`, `value`) of the journal of execution `execution` of the run `run_id`."""


class Journal:
    """The journal of execution `execution` of a run, with the results an earlier attempt at it recorded."""

    def __init__(self, run_id: str, execution: int, recorded: dict[int, bytes] | None = None) -> None:
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

    def recorded_start(self) -> Any:
        """What the execution found when it began, as an earlier attempt recorded it (`keep_start`); None if none
        did."""
        return self._recorded_value(START)

    def keep_start(self, value: object) -> None:
        """Record what the execution found when it began, for the caller's transaction (`take`)."""
        self._keep(START, value)

    def take(self) -> list[dict[str, Any]]:
        """The rows of the results not written yet, for the caller's transaction (`JournalEntry`)."""
        rows, self._pending = self._pending, []
        return rows

    async def model_request(self, request: ModelRequest) -> ModelResponse:
        """The response to the next model request: the recorded one on a replay, else the model's."""
        number, recorded = self._next()
        if recorded is not None:
            return recorded
        response = await request()
        self._keep(number, response)
        return response

    async def tool_call(self, call: ToolCallPart, deps: RunDeps, handler: ToolHandler) -> ToolOutcome:
        """The outcome of the next tool call: the recorded one on a replay (or its exception again), else run."""
        number, recorded = self._next()
        if isinstance(recorded, Raised):
            raise recorded.error
        if recorded is not None:
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

    def _next(self) -> tuple[int, Any]:
        self._number += 1
        return self._number, self._recorded_value(self._number)

    def _recorded_value(self, number: int) -> Any:
        value = self._recorded.get(number)
        return None if value is None else pickle.loads(value)  # noqa: S301  # our own rows

    def _keep(self, number: int, value: object) -> None:
        try:
            pickled = pickle.dumps(value)
        except Exception as exc:  # an exception with an unpicklable part: a replay runs its call again
            log.warning("run %s: result %d is not kept for replays: %s", self.run_id, number, exc)
            return
        self._pending.append({"run_id": self.run_id, "execution": self.execution, "number": number, "value": pickled})
