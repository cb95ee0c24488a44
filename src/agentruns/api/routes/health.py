"""`GET /health`: liveness and the database kind, without a key."""

from fastapi import APIRouter
from sqlalchemy import text

from agentruns import __version__
from agentruns.api.deps import DatabaseDep
from agentruns.api.openapi import CLIENT_ERRORS
from agentruns.schemas.health import Health

router = APIRouter(tags=["health"])


@router.get("/health", responses=CLIENT_ERRORS)
async def health(db: DatabaseDep) -> Health:
    """Answer 200 when the service and its database answer; needs no key."""
    async with db.read() as session:
        await session.execute(text("SELECT 1"))
    return Health(version=__version__, database=db.kind.value)
