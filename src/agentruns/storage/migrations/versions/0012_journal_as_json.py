"""The run journal holds JSON text, no longer pickles: the entries of runs in flight are converted, so they resume.

Each pickled entry is read once, here, by an unpickler that rebuilds agentruns' own classes as plain stand-ins
(their fields as the release that pickled them had them, so a later change to those classes cannot break this
migration), and written as the JSON of `engine/journal.py` at this revision: `start`, `response`, `outcome` or
`raised`. An entry that cannot be read (a class no longer importable) or holds no journal result is deleted: the
replay makes that request or call again, as it does for a result that could not be kept. The workflow version
stays 3 (`engine/names.py`): the workflow replays the converted entries as it replayed the pickles.

The downgrade empties the journal (JSON cannot be turned back into the older release's objects here): runs in
flight replay with no entry, so the older release makes their requests and tool calls again.

Revision ID: 0012
Revises: 0011
"""

import io
import json
import logging
import pickle
from typing import Any, ClassVar, cast

import sqlalchemy as sa
from alembic import op
from pydantic import ConfigDict, TypeAdapter
from pydantic_ai.exceptions import ToolFailedError, ToolRetryError
from pydantic_ai.messages import ModelMessagesTypeAdapter, ModelRequestPart, ModelResponse

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "run_journal"
log = logging.getLogger("alembic.runtime.migration")


class _StandIn:
    """An agentruns object as pickled: the fields its class had then (a slots dataclass pickles their values in
    order, a shorter list when fields were added since), the later ones at their defaults."""

    FIELDS: ClassVar[tuple[str, ...]] = ()
    DEFAULTS: ClassVar[dict[str, Any]] = {}
    fields: dict[str, Any]

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):  # a class without slots pickles its `__dict__`
            self.fields = self.DEFAULTS | cast(dict[str, Any], state)
        else:
            self.fields = self.DEFAULTS | dict(zip(self.FIELDS, state, strict=False))

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]


class _Raised(_StandIn):
    FIELDS = ("error",)


class _ToolOutcome(_StandIn):
    FIELDS = ("output", "duration_ms", "printed", "network")
    DEFAULTS: ClassVar[dict[str, Any]] = {"network": None}


class _Taken(_StandIn):
    FIELDS = ("connections", "not_recorded")
    DEFAULTS: ClassVar[dict[str, Any]] = {"connections": (), "not_recorded": 0}


class _Connection(_StandIn):
    FIELDS = ("host", "port", "allowed", "via", "method", "reason", "address", "sent", "received")
    DEFAULTS: ClassVar[dict[str, Any]] = {"method": "", "reason": None, "address": None, "sent": 0, "received": 0}


class _StartedRun(_StandIn):
    FIELDS = ("spec", "started_at", "time_limit_seconds", "sandbox_cpu", "sandbox_memory_mib", "max_cost_micros",
              "network_allow", "resume", "waited_seconds", "progress")  # fmt: skip
    DEFAULTS: ClassVar[dict[str, Any]] = {"max_cost_micros": None, "network_allow": None}


class _RunSpec(_StandIn):
    FIELDS = ("run_id", "prompt", "instructions", "model", "enabled_tools", "disabled_tools", "max_model_requests")


class _Progress(_StandIn):
    FIELDS = ("steps", "requests", "logs", "input_tokens", "output_tokens", "cached_tokens", "cost_micros")


_STAND_INS: dict[tuple[str, str], type[_StandIn]] = {
    ("agentruns.engine.journal", "Raised"): _Raised,
    ("agentruns.agent.deps", "ToolOutcome"): _ToolOutcome,
    ("agentruns.sandbox.egress.log", "Taken"): _Taken,
    ("agentruns.sandbox.egress.log", "Connection"): _Connection,
    ("agentruns.engine.workflow", "StartedRun"): _StartedRun,
    ("agentruns.agent.loop", "RunSpec"): _RunSpec,
    ("agentruns.storage.queries.progress", "Progress"): _Progress,
}


class _Unpickler(pickle.Unpickler):
    """Reads a pickled entry with agentruns' classes as stand-ins; other classes (Pydantic AI's messages and
    exceptions, the standard library's) are imported as they are."""

    def find_class(self, module: str, name: str, /) -> Any:
        return _STAND_INS.get((module, name)) or super().find_class(module, name)


# As `engine/journal.py` writes a request part: with the bytes encoding of `ModelMessagesTypeAdapter`.
_PARTS: TypeAdapter[ModelRequestPart] = TypeAdapter(
    ModelRequestPart, config=ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")
)


def _error(error: Exception) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type(error).__name__, "message": str(error)}
    if isinstance(error, ToolFailedError):
        data["tool_failed"] = _PARTS.dump_python(error.tool_failed, mode="json")
    elif isinstance(error, ToolRetryError):
        data["tool_retry"] = _PARTS.dump_python(error.tool_retry, mode="json")
    return data


def _outcome(outcome: _ToolOutcome) -> dict[str, Any]:
    taken = outcome["network"]
    connections: list[dict[str, Any]] = [] if taken is None else [dict(each.fields) for each in taken["connections"]]
    network = {"connections": connections, "not_recorded": 0 if taken is None else taken["not_recorded"]}
    return {"output": outcome["output"], "duration_ms": outcome["duration_ms"], "printed": outcome["printed"],
            "network": network}  # fmt: skip


def _start(started: _StartedRun) -> dict[str, Any]:
    fixed = {name: started[name] for name in _StartedRun.FIELDS if name not in ("resume", "waited_seconds", "progress")}
    return fixed | {"spec": dict(started["spec"].fields), "started_at": started["started_at"].isoformat()}


def _converted(value: Any) -> dict[str, Any] | None:
    """The JSON of an unpickled entry, or None if it holds no journal result."""
    if isinstance(value, _StartedRun):
        return {"start": _start(value)}
    if isinstance(value, ModelResponse):
        return {"response": ModelMessagesTypeAdapter.dump_python([value], mode="json")[0]}
    if isinstance(value, _ToolOutcome):
        return {"outcome": _outcome(value)}
    if isinstance(value, _Raised) and isinstance(value["error"], Exception):
        return {"raised": _error(value["error"])}
    return None


def _json(pickled: bytes) -> str | None:
    """The entry `pickled` as JSON text, or None if it cannot be read or written so."""
    try:
        data = _converted(_Unpickler(io.BytesIO(pickled)).load())  # agentruns' own rows, read once
        return None if data is None else json.dumps(data, separators=(",", ":"), allow_nan=False)
    except Exception as exc:
        log.warning("a journal entry is dropped, its request or call will be made again: %s", exc)
        return None


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("entry", sa.Text(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text(f"SELECT run_id, execution, number, value FROM {TABLE}")).all()  # noqa: S608
    where = "run_id = :run_id AND execution = :execution AND number = :number"
    converted: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    for run_id, execution, number, pickled in rows:
        key = {"run_id": run_id, "execution": execution, "number": number}
        entry = _json(bytes(pickled))
        (dropped if entry is None else converted).append(key | {"entry": entry})
    if converted:
        bind.execute(sa.text(f"UPDATE {TABLE} SET entry = :entry WHERE {where}"), converted)  # noqa: S608
    if dropped:
        bind.execute(sa.text(f"DELETE FROM {TABLE} WHERE {where}"), dropped)  # noqa: S608
    with op.batch_alter_table(TABLE) as batch_op:
        batch_op.drop_column("value")
        batch_op.alter_column("entry", new_column_name="value", existing_type=sa.Text(), nullable=False)


def downgrade() -> None:
    op.execute(f"DELETE FROM {TABLE}")  # noqa: S608
    with op.batch_alter_table(TABLE) as batch_op:
        batch_op.drop_column("value")
        batch_op.add_column(sa.Column("value", sa.LargeBinary(), nullable=False))
