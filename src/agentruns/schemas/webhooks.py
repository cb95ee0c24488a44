"""Watcher and webhook bodies: register a callback URL, the deliveries of a run, the signing secret."""

from typing import Annotated, Literal

from pydantic import ConfigDict, StringConstraints

from agentruns.schemas.base import NO_NUL, RequestModel, ResponseModel, Timestamp

CallbackUrl = Annotated[str, NO_NUL, StringConstraints(min_length=1, max_length=2000)]
"""An `https://` URL with a public host, to POST to when a run ends (checked by the service: see docs/api.md)."""


class WatchCreate(RequestModel):
    """The body of `POST /agent/v1/run/{id}/watch`."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"callbackUrl": "https://example.com/hooks/agent"}]})

    callback_url: CallbackUrl


class Watching(ResponseModel):
    """The answer of a watch."""

    ok: bool
    callback_url: str


class WebhookAttemptOut(ResponseModel):
    """One attempt at a delivery; an attempt cut short by a worker's stop has an `error` and no `statusCode`."""

    number: int
    started_at: Timestamp
    finished_at: Timestamp | None
    status_code: int | None
    error: str | None


class WebhookOut(ResponseModel):
    """A watcher of the run and its delivery: `waiting` until the run ends, then `pending` (being sent or
    waiting for a retry), `delivered` or `failed` (every attempt failed)."""

    callback_url: str
    registered_at: Timestamp
    status: Literal["waiting", "pending", "delivered", "failed"]
    webhook_id: str | None
    type: str | None
    attempts: list[WebhookAttemptOut]
    next_attempt_at: Timestamp | None
    completed_at: Timestamp | None


class RunWebhooks(ResponseModel):
    """Every watcher of a run, in the order they were registered."""

    webhooks: list[WebhookOut]


class SigningSecret(ResponseModel):
    """The organization's webhook signing secret (`whsec_…`, Standard Webhooks); after a rotation, the one it
    replaced keeps signing until `previousExpiresAt`."""

    secret: str
    created_at: Timestamp
    previous_expires_at: Timestamp | None
