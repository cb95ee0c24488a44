"""Idempotent creates: a request repeated with the same `Idempotency-Key` gets the run the first one made.

The key is stored on the run under a unique constraint (organization, key), so of two requests with one key
that arrive together exactly one creates; the other finds its run. A key sent with a different request (another
endpoint or another body) is a conflict, never a second run.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.errors import Conflict
from agentruns.schemas.base import RequestModel
from agentruns.storage.database import Database
from agentruns.storage.models import Run

T = TypeVar("T")


def request_hash(endpoint: str, body: RequestModel) -> str:
    """The identity of a request: its endpoint and its body as parsed (so whitespace and key order do not count)."""
    content = {"endpoint": endpoint, "body": body.model_dump(mode="json", by_alias=True)}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


async def _made_by(session: AsyncSession, org_id: str, key: str, digest: str) -> Run | None:
    run = await session.scalar(select(Run).where(Run.org_id == org_id, Run.idempotency_key == key))
    if run is not None and run.request_hash != digest:
        raise Conflict(
            f"the Idempotency-Key {key!r} was already used with a different request (run {run.id}); "
            "send a new key for a new request"
        )
    return run


async def create_once(
    db: Database,
    org_id: str,
    key: str | None,
    digest: str,
    create: Callable[[], Awaitable[T]],
    replay: Callable[[Run], T],
) -> tuple[T, bool]:
    """`create`, a write transaction that stores a run with `key`, unless `key` already made a run: then `replay` of
    that run.

    Returns:
        The answer, and whether it is a replay.

    Raises:
        Conflict: The key was used with a different request.
    """
    if key is None:
        return await create(), False
    async with db.read() as session:
        made = await _made_by(session, org_id, key, digest)
    if made is not None:
        return replay(made), True
    try:
        return await create(), False
    except IntegrityError:
        # Another request with this key created its run in the meantime: the unique constraint stopped this one.
        async with db.read() as session:
            made = await _made_by(session, org_id, key, digest)
        if made is None:
            raise
        return replay(made), True
