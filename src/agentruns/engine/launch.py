"""Create a run in the caller's transaction and, to execute it at once, claim it and enqueue its workflow there too.

The API's create and execute, and the `task` tool's child runs, all make runs this way.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.engine.client import EngineClient
from agentruns.engine.names import workflow_id_for
from agentruns.ids import new_id
from agentruns.schemas import events as payloads
from agentruns.schemas.runs import RunStatus
from agentruns.storage.models import Run
from agentruns.storage.queries import events, run_states
from agentruns.storage.queries.inserts import by_column, table_of

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # the alphabet of `agentruns.ids`


@dataclass(frozen=True, slots=True)
class NewRun:
    """What a new run is made of; the limits left None fall back to its agent's, then to the deployment's."""

    org_id: str
    agent_id: str
    prompt: str
    model: str
    guidance: str | None = None
    object_ids: list[str] = field(default_factory=list[str])
    metadata: dict[str, str] = field(default_factory=dict[str, str])
    max_duration_ms: int | None = None
    max_model_requests: int | None = None
    max_cost_micros: int | None = None
    parent_run_id: str | None = None
    depth: int = 0
    idempotency_key: str | None = None
    request_hash: str | None = None
    run_id: str | None = None
    """The run's id; a new one if None."""


def child_run_id(parent_id: str, resume: int, tool_call_id: str) -> str:
    """The id of the child run a tool call starts: the same for every replay of the same call."""
    digest = int.from_bytes(hashlib.sha256(f"{parent_id}:{resume}:{tool_call_id}".encode()).digest()[:17])
    return "run_" + "".join(_ALPHABET[(digest >> (5 * index)) & 31] for index in range(26))


async def add_run(session: AsyncSession, new: NewRun, at: datetime) -> Run:
    """Store a queued run and its first event."""
    run = Run(**_run_values(new, at))
    session.add(run)
    await session.flush()
    await events.append(session, run.id, [payloads.run_queued(run.id, at)])
    return run


def add_run_on(connection: Connection, new: NewRun, at: datetime) -> str:
    """`add_run` on a Core connection (`Database.write_core`), without an ORM object; the run's id."""
    values = _run_values(new, at)
    connection.execute(_INSERT_RUN, by_column(Run, [values]))
    events.append_on(connection, values["id"], [payloads.run_queued(values["id"], at)])
    return values["id"]


_INSERT_RUN = insert(table_of(Run))
"""A run's insert, built once; a second run with the same `Idempotency-Key` fails it (its unique constraint)."""


def _run_values(new: NewRun, at: datetime) -> dict[str, Any]:
    """A new queued run's attributes."""
    return {
        "id": new.run_id or new_id("run"), "org_id": new.org_id, "agent_id": new.agent_id,
        "status": RunStatus.QUEUED.value, "prompt": new.prompt, "guidance": new.guidance, "model": new.model,
        "object_ids": new.object_ids, "output_object_ids": [], "created_object_ids": [], "issues": [],
        "created_at": at, "parent_run_id": new.parent_run_id, "depth": new.depth, "metadata_": new.metadata,
        "idempotency_key": new.idempotency_key, "request_hash": new.request_hash,
        "max_duration_ms": new.max_duration_ms, "max_model_requests": new.max_model_requests,
        "max_cost_micros": new.max_cost_micros, "waited_ms": 0,
    }  # fmt: skip


async def execute_in(session: AsyncSession, engine: EngineClient, run: Run) -> str | None:
    """Claim a queued run and enqueue its workflow; its workflow id, or None if it was executed or has ended."""
    return await session.run_sync(lambda sync: execute_on(sync.connection(), engine, run.org_id, run.id))


def execute_on(connection: Connection, engine: EngineClient, org_id: str, run_id: str) -> str | None:
    """`execute_in` on a Core connection (`Database.write_core`)."""
    workflow_id = workflow_id_for(run_id)
    if not run_states.claim_for_exec_on(connection, org_id, run_id, workflow_id):
        return None
    engine.enqueue_on(connection, run_id=run_id, org_id=org_id, workflow_id=workflow_id)
    return workflow_id
