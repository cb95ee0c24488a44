"""Run use cases: create a queued run, list runs, and read a run's status and details."""

from collections.abc import Sequence

from sqlalchemy import Connection

from agentruns import clock
from agentruns.engine.launch import NewRun, add_run_on
from agentruns.errors import NotFound
from agentruns.schemas.catalog import LIST_PROMPT_CHARS
from agentruns.schemas.runs import (
    RunCreate,
    RunCreated,
    RunDetails,
    RunListItem,
    RunPage,
    RunStatus,
    RunStatusOut,
)
from agentruns.services.callbacks import checked_callback_url
from agentruns.services.idempotency import create_once, request_hash
from agentruns.services.run_details import duration_ms, run_details_of
from agentruns.storage.database import Database
from agentruns.storage.models import Run, RunPendingCall, run_view
from agentruns.storage.queries import agents, run_tree, runs, waits
from agentruns.storage.queries.pages import UnknownCursor


def run_not_found(run_id: str) -> NotFound:
    """The error for a run the caller's organization does not have."""
    return NotFound(f"run {run_id!r} not found")


def _created(run: Run) -> RunCreated:
    """The answer of the create that made the run (replayed as it was for a repeated `Idempotency-Key`)."""
    return RunCreated(id=run.id, agent_id=run.agent_id, status=RunStatus.QUEUED, object_ids=run.object_ids,
                      metadata=run.metadata_, created_at=run.created_at)  # fmt: skip


async def create_run(
    db: Database, org_id: str, body: RunCreate, *, allow_private_callbacks: bool = False
) -> RunCreated:
    """Queue a run of an active agent; its watcher, if any, is stored in the same transaction."""
    created, _ = await create_run_once(db, org_id, body, allow_private_callbacks=allow_private_callbacks)
    return created


async def create_run_once(
    db: Database,
    org_id: str,
    body: RunCreate,
    *,
    allow_private_callbacks: bool = False,
    idempotency_key: str | None = None,
) -> tuple[RunCreated, bool]:
    """`create_run`, once per `idempotency_key`: a repeated request answers the run the first one created.

    Returns:
        The answer, and whether it is the replay of an earlier create with the same `idempotency_key`.

    Raises:
        Conflict: The key was used with a different request.
    """
    if body.callback_url is not None:
        await checked_callback_url(body.callback_url, allow_private=allow_private_callbacks)
    digest = request_hash("run", body)

    def create(connection: Connection) -> RunCreated:
        now = clock.now()
        agent = agents.runnable_on(connection, org_id, body.agent_id)
        if agent is None:
            raise NotFound(f"agent {body.agent_id!r} not found (or deleted)")
        new = NewRun(
            org_id=org_id, agent_id=agent.id, prompt=body.prompt, guidance=body.guidance,
            model=body.model or agent.model, object_ids=body.object_ids, metadata=body.metadata,
            max_duration_ms=body.max_duration_ms, max_model_requests=body.max_model_requests,
            max_cost_micros=body.max_cost_micros, idempotency_key=idempotency_key, request_hash=digest,
        )  # fmt: skip
        run_id = add_run_on(connection, new, now)
        if body.callback_url is not None:
            runs.add_watcher_on(connection, run_id, body.callback_url, now)
        return RunCreated(id=run_id, agent_id=agent.id, status=RunStatus.QUEUED, object_ids=new.object_ids,
                          metadata=new.metadata, created_at=now)  # fmt: skip

    # On Core, not an ORM session: the create is half of the API's work for each run.
    return await create_once(db, org_id, idempotency_key, digest, lambda: db.write_core(create), _created)


async def list_runs(
    db: Database,
    org_id: str,
    *,
    agent_id: str | None,
    status: RunStatus | None,
    cursor: str | None,
    limit: int,
    parent_run_id: str | None = None,
    metadata: dict[str, str] | None = None,
) -> RunPage:
    """One page of the organization's runs, newest first, filtered by agent, status, parent and metadata."""
    async with db.read() as session:
        try:
            page = await runs.page(session, org_id, agent_id=agent_id, status=status, cursor=cursor, limit=limit,
                                   parent_run_id=parent_run_id, metadata=metadata)  # fmt: skip
        except UnknownCursor:
            raise NotFound(f"cursor {cursor!r} names no run of this organization") from None
    items = [
        RunListItem(
            id=run.id,
            agent_id=run.agent_id,
            status=RunStatus(run.status),
            prompt=run.prompt[:LIST_PROMPT_CHARS],
            model=run.model,
            parent_run_id=run.parent_run_id,
            metadata=run.metadata_,
            created_at=run.created_at,
            started_at=run.started_at,
            completed_at=run.completed_at,
        )
        for run in page.rows
    ]
    return RunPage(runs=items, has_more=page.has_more, next_cursor=page.next_cursor)


async def run_status(db: Database, org_id: str, run_id: str) -> RunStatusOut:
    """The run's status and timing, from its row alone."""
    async with db.read() as session:
        run = await runs.get(session, org_id, run_id)
    if run is None:
        raise run_not_found(run_id)
    return RunStatusOut(
        id=run.id,
        status=RunStatus(run.status),
        started_at=run.started_at,
        completed_at=run.completed_at,
        duration_ms=duration_ms(run_view(run), clock.now()),
    )


async def run_details(db: Database, org_id: str, run_id: str) -> RunDetails:
    """The run's whole audit trail."""
    async with db.read() as session:
        run = await runs.get(session, org_id, run_id)
        if run is None:
            raise run_not_found(run_id)
        steps = await runs.steps(session, run_id)
        entries = await runs.usage_entries(session, run_id)
        logs = await runs.logs(session, run_id)
        children = await run_tree.children(session, org_id, run_id)
        below = [descendant.id for descendant in await run_tree.descendants(session, org_id, run_id)]
        tree_usage = await run_tree.usage_sums(session, below)
        wait = await waits.current(session, run_id) if run.status == RunStatus.WAITING else None
        calls: Sequence[RunPendingCall] = await waits.calls(session, run_id, wait.number) if wait else []
        awaited = [call for call in calls if call.resolved_at is None]
    return run_details_of(run, steps, entries, logs, now=clock.now(), children=children, tree_usage=tree_usage,
                          awaited=awaited, wait_deadline=wait.deadline if wait else None)  # fmt: skip
