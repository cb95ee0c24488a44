"""`/agent/v1/run`: create, list, execute, read, cancel, watch and stream runs."""

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from agentruns.api.deps import CurrentOrg, DatabaseDep, EngineDep, SettingsDep
from agentruns.api.openapi import CLIENT_ERRORS, CONFLICT, EVENT_STREAM, NOT_FOUND
from agentruns.api.params import Cursor, Limit, RunId
from agentruns.api.run_params import METADATA_FILTER_OPENAPI, IdempotencyKey, MetadataFilter, mark_replayed
from agentruns.api.sse import EventStreamResponse, sse_frames
from agentruns.events.feed import FeedSeconds
from agentruns.schemas.base import NO_NUL_PATTERN
from agentruns.schemas.catalog import PAGE_LIMIT_DEFAULT
from agentruns.schemas.runs import (
    RunCancelled,
    RunCreate,
    RunCreated,
    RunDetails,
    RunExecuted,
    RunInput,
    RunInputAccepted,
    RunPage,
    RunStatus,
    RunStatusOut,
)
from agentruns.schemas.webhooks import RunWebhooks, WatchCreate, Watching
from agentruns.services import answers, events, execution, runs, webhooks

router = APIRouter(prefix="/agent/v1/run", tags=["runs"], responses=CLIENT_ERRORS)

AgentFilter = Annotated[
    str | None, Query(alias="agentId", pattern=NO_NUL_PATTERN, description="Only runs of this agent.")
]
StatusFilter = Annotated[RunStatus | None, Query(description="Only runs in this status.")]
ParentFilter = Annotated[
    str | None, Query(alias="parentRunId", pattern=NO_NUL_PATTERN, description="Only the child runs of this run.")
]
LastEventIdQuery = Annotated[
    int | None, Query(alias="lastEventId", ge=0, le=2**53, description="Replay the events after this one.")
]
LastEventIdHeader = Annotated[
    str | None,
    Header(alias="Last-Event-ID", pattern=r"^\d{0,15}$", description="Replay the events after this one (wins)."),
]


@router.post("", responses=NOT_FOUND | CONFLICT)
async def create_run(
    body: RunCreate,
    db: DatabaseDep,
    org: CurrentOrg,
    settings: SettingsDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> RunCreated:
    """Queue a run of an agent; creating never starts work (see exec). With `Idempotency-Key`, a repeated
    request answers the run the first one created; the same key with another body is 409."""
    created, replayed = await runs.create_run_once(
        db, org, body, allow_private_callbacks=settings.webhook_allow_private_targets, idempotency_key=idempotency_key
    )
    mark_replayed(response, replayed)
    return created


@router.get("", openapi_extra=METADATA_FILTER_OPENAPI)
async def list_runs(
    db: DatabaseDep,
    org: CurrentOrg,
    metadata: MetadataFilter,
    agent_id: AgentFilter = None,
    status: StatusFilter = None,
    parent_run_id: ParentFilter = None,
    cursor: Cursor = None,
    limit: Limit = PAGE_LIMIT_DEFAULT,
) -> RunPage:
    """List the organization's runs, newest first; `prompt` is cut to 200 characters. Filters: `agentId`,
    `status`, `parentRunId` (the children of a run) and `metadata[KEY]=VALUE` (several are ANDed)."""
    return await runs.list_runs(db, org, agent_id=agent_id, status=status, cursor=cursor, limit=limit,
                                parent_run_id=parent_run_id, metadata=metadata)  # fmt: skip


@router.get("/{run_id}/status", responses=NOT_FOUND)
async def run_status(run_id: RunId, db: DatabaseDep, org: CurrentOrg) -> RunStatusOut:
    """The run's status and timing; cheap to poll."""
    return await runs.run_status(db, org, run_id)


@router.get("/{run_id}/details", responses=NOT_FOUND)
async def run_details(run_id: RunId, db: DatabaseDep, org: CurrentOrg) -> RunDetails:
    """The run's whole audit trail: output, steps, usage and logs."""
    return await runs.run_details(db, org, run_id)


@router.get("/{run_id}", responses=NOT_FOUND)
async def run_details_alias(run_id: RunId, db: DatabaseDep, org: CurrentOrg) -> RunDetails:
    """The same as `GET /agent/v1/run/{id}/details`."""
    return await runs.run_details(db, org, run_id)


@router.post("/{run_id}/exec", responses=NOT_FOUND | CONFLICT)
async def exec_run(run_id: RunId, db: DatabaseDep, engine: EngineDep, org: CurrentOrg) -> RunExecuted:
    """Start the run's durable workflow and return at once; a second exec of the same run is 409."""
    return await execution.exec_run(db, engine, org, run_id)


@router.post("/{run_id}/input", responses=NOT_FOUND | CONFLICT)
async def answer_run(
    run_id: RunId, body: RunInput, db: DatabaseDep, engine: EngineDep, org: CurrentOrg
) -> RunInputAccepted:
    """Answer the question a waiting run asked (`waitingFor`); the run goes on once nothing else is awaited.
    409 unless the run waits for an answer."""
    return await answers.answer_run(db, engine, org, run_id, body)


@router.post("/{run_id}/cancel", responses=NOT_FOUND)
async def cancel_run(run_id: RunId, db: DatabaseDep, engine: EngineDep, org: CurrentOrg) -> RunCancelled:
    """Cancel a queued, running or waiting run at once; a finished run answers its status and a message."""
    return await execution.cancel_run(db, engine, org, run_id)


@router.post("/{run_id}/watch", responses=NOT_FOUND)
async def watch_run(
    run_id: RunId, body: WatchCreate, db: DatabaseDep, org: CurrentOrg, settings: SettingsDep
) -> Watching:
    """Register a callback URL to POST to when the run ends (several per run; the same URL once); on a run
    that has ended, its webhook is sent at once. The URL must be `https://` and reach only public addresses."""
    return await webhooks.watch(db, settings, org, run_id, body.callback_url)


@router.get("/{run_id}/webhooks", responses=NOT_FOUND)
async def run_webhooks(run_id: RunId, db: DatabaseDep, org: CurrentOrg) -> RunWebhooks:
    """The run's watchers and their webhook deliveries: each attempt's time, status code and error."""
    return await webhooks.run_webhooks(db, org, run_id)


@router.get("/{run_id}/events", responses=NOT_FOUND | EVENT_STREAM, response_class=EventStreamResponse)
async def run_events(
    run_id: RunId,
    db: DatabaseDep,
    org: CurrentOrg,
    settings: SettingsDep,
    last_event_id: LastEventIdQuery = None,
    last_event_id_header: LastEventIdHeader = None,
) -> EventStreamResponse:
    """Stream the run's events over SSE: those after `lastEventId` (or `Last-Event-ID`), then live ones; after
    the terminal event, `event: close` and the end of the stream. Event names and payloads: docs/api.md."""
    after = events.resume_after(last_event_id, None if not last_event_id_header else int(last_event_id_header))
    seconds = FeedSeconds(poll=settings.events_poll_seconds, keepalive=settings.events_keepalive_seconds)
    stream = await events.open_stream(db, org, run_id, after, seconds=seconds)
    return EventStreamResponse(sse_frames(stream))
