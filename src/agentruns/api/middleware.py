"""ASGI middleware that runs before routing: a database unavailable for a moment answered 503, the body size limit,
then authentication."""

import logging
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentruns.api.errors import error_response, service_error_response
from agentruns.api.rate_limit import OrgRateLimit
from agentruns.errors import PayloadTooLarge, ServiceError, Unauthorized
from agentruns.schemas.errors import ErrorCode
from agentruns.services import auth
from agentruns.settings import Settings
from agentruns.storage.database import Database

PROTECTED_PREFIX = "/agent/"
RETRY_AFTER_UNAVAILABLE_SECONDS = 1
"""How long a 503 for an unavailable database asks the client to wait before it sends the request again."""

log = logging.getLogger("agentruns.api")


class DatabaseUnavailable:
    """Answer 503 with `Retry-After`, not 500, to a request the database failed for a passing reason: a pooled
    connection the server or a proxy dropped (the pool does not ping before each use), a server restarting or refusing
    connections, a statement cancelled, a SQLite file locked past its busy timeout, no pooled connection free in time.
    Sent again, the request can succeed: the pool has replaced a dropped connection by then. A failure after the
    request's commit (rare: its reads come first) leaves what it wrote, as any failed request may; a create sent again
    with its `Idempotency-Key` is not made twice. A response already under way (a stream) is cut, as any failure cuts
    it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except (OperationalError, PoolTimeout) as exc:
            if started:
                raise
            log.warning("database unavailable on %s %s: %s", scope["method"], scope["path"], str(exc).splitlines()[0])
            message = "the database is unavailable for a moment; send the request again"
            headers = {"retry-after": str(RETRY_AFTER_UNAVAILABLE_SECONDS)}
            await error_response(503, ErrorCode.INTERNAL_ERROR, message, headers=headers)(scope, receive, send)


class BodyLimit:
    """Refuse a body over `max_bytes` with 413 before anything reads it; the body is then replayed whole."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        too_large = PayloadTooLarge(f"the request body is over the limit of {self.max_bytes} bytes")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await service_error_response(too_large)(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before sending its whole body: nobody to answer
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await service_error_response(too_large)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class Authenticate:
    """Resolve `Authorization: Bearer <key>` to an organization for every `/agent/…` request.

    It runs before the body is parsed, so an unauthenticated caller learns nothing about the request's
    validity. A key found valid is trusted for `AGENTRUNS_KEY_CACHE_SECONDS` by this process (`auth.KeyCache`): the
    bound on how long a revoked key still works here. The organization id is left in `request.state.org_id` for
    the `CurrentOrg` dependency. The organization's request rate limit is applied here too, before any work is done.
    """

    def __init__(self, app: ASGIApp, db: Database, settings: Settings) -> None:
        self.app = app
        self.db = db
        self.settings = settings
        self.keys = auth.KeyCache(settings.key_cache_seconds)
        self.rate_limit = OrgRateLimit(settings.rate_limit) if settings.rate_limit.strip().lower() != "off" else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PROTECTED_PREFIX):
            await self.app(scope, receive, send)
            return
        try:
            org_id = await auth.organization_of_key(self.db, self.settings, self._bearer_token(scope), self.keys)
        except ServiceError as exc:
            response = service_error_response(exc)
            response.headers["www-authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        if self.rate_limit is not None:
            try:
                await self.rate_limit.check(org_id)
            except ServiceError as exc:
                await service_error_response(exc)(scope, receive, send)
                return
        state: dict[str, Any] = scope.setdefault("state", {})
        state["org_id"] = org_id
        await self.app(scope, receive, send)

    @staticmethod
    def _bearer_token(scope: Scope) -> str:
        """The key of the last `Authorization` header, as the last of repeated values wins elsewhere; a proxy that
        folds repeated headers into one comma-separated value gives the same key (keys hold no comma)."""
        values = [value for name, value in scope["headers"] if name == b"authorization"]
        header = values[-1].decode("latin-1").rsplit(",", 1)[-1].strip() if values else ""
        scheme, _, token = header.partition(" ")
        if not header:
            raise Unauthorized("missing API key: send the header `Authorization: Bearer <key>`")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be `Bearer <key>`")
        return token.strip()
