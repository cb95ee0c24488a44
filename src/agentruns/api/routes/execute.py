"""`POST /agent/v1/execute`: the one-call execute flow."""

from fastapi import APIRouter, Response

from agentruns.api.deps import CurrentOrg, DatabaseDep, EngineDep
from agentruns.api.openapi import CLIENT_ERRORS, CONFLICT
from agentruns.api.run_params import IdempotencyKey, mark_replayed
from agentruns.schemas.execute import ExecuteCreate, ExecuteStarted
from agentruns.services import execute as execute_service

router = APIRouter(prefix="/agent/v1/execute", tags=["runs"], responses=CLIENT_ERRORS)


@router.post("", responses=CONFLICT)
async def execute(
    body: ExecuteCreate,
    db: DatabaseDep,
    engine: EngineDep,
    org: CurrentOrg,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ExecuteStarted:
    """Create an ephemeral agent (never listed; deleted when its run ends) and execute its run at once; returns
    at once. With `Idempotency-Key`, a repeated request answers the run the first one started."""
    started, replayed = await execute_service.execute(db, engine, org, body, idempotency_key=idempotency_key)
    mark_replayed(response, replayed)
    return started
