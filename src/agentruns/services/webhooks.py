"""Watcher and webhook use cases: register a callback URL, list a run's deliveries, read and rotate the secret."""

import logging
from datetime import timedelta

from sqlalchemy import select

from agentruns import clock
from agentruns.errors import Misconfigured
from agentruns.events import signing
from agentruns.ids import new_id
from agentruns.schemas.runs import RunStatus
from agentruns.schemas.webhooks import RunWebhooks, SigningSecret, Watching, WebhookAttemptOut, WebhookOut
from agentruns.services.callbacks import checked_callback_url
from agentruns.services.runs import run_not_found
from agentruns.settings import Settings
from agentruns.storage.database import Database
from agentruns.storage.models import Run, RunWatcher, run_view
from agentruns.storage.queries import runs, webhooks
from agentruns.storage.queries.inserts import insert_once
from agentruns.storage.secret_box import SecretBox, UndecryptableSecret

log = logging.getLogger("agentruns.webhooks")

SECRET_OVERLAP = timedelta(hours=24)
"""How long a rotated secret keeps signing beside the new one."""


async def watch(db: Database, settings: Settings, org_id: str, run_id: str, url: str) -> Watching:
    """Register a watcher (once per URL); on a run that has already ended, its webhook is scheduled at once."""
    async with db.read() as session:
        if await runs.get(session, org_id, run_id) is None:
            raise run_not_found(run_id)
    url = await checked_callback_url(url, allow_private=settings.webhook_allow_private_targets)
    now = clock.now()
    async with db.write() as session:
        # Locked as the end of a run locks it: either the end sees this watcher, or this sees the end.
        run = await session.scalar(select(Run).where(Run.id == run_id).with_for_update(key_share=True))
        assert run is not None
        await insert_once(
            session, RunWatcher, [{"id": new_id("watch"), "run_id": run_id, "url": url, "created_at": now}]
        )
        if RunStatus(run.status).is_terminal:
            await webhooks.schedule(session, run_view(run), now)
    return Watching(ok=True, callback_url=url)


async def run_webhooks(db: Database, org_id: str, run_id: str) -> RunWebhooks:
    """The run's watchers with their deliveries and attempts."""
    async with db.read() as session:
        if await runs.get(session, org_id, run_id) is None:
            raise run_not_found(run_id)
        listed = await webhooks.of_run(session, run_id)
    items = [
        WebhookOut(
            callback_url=watcher.url,
            registered_at=watcher.created_at,
            status="waiting" if delivery is None else delivery.status,  # pyright: ignore[reportArgumentType]
            webhook_id=None if delivery is None else delivery.id,
            type=None if delivery is None else delivery.event_type,
            attempts=[
                WebhookAttemptOut(
                    number=attempt.number,
                    started_at=attempt.started_at,
                    finished_at=attempt.finished_at,
                    status_code=attempt.status_code,
                    error=attempt.error,
                )
                for attempt in attempts
            ],
            next_attempt_at=None if delivery is None else delivery.next_attempt_at,
            completed_at=None if delivery is None else delivery.completed_at,
        )
        for watcher, delivery, attempts in listed
    ]
    return RunWebhooks(webhooks=items)


async def signing_secret(db: Database, box: SecretBox, org_id: str) -> SigningSecret:
    """The organization's signing secret, created on first use."""
    return await _secrets(db, box, org_id, rotate=False)


async def rotate_secret(db: Database, box: SecretBox, org_id: str) -> SigningSecret:
    """A new signing secret; the one it replaces signs too for 24 hours, so receivers can switch over."""
    return await _secrets(db, box, org_id, rotate=True)


async def _secrets(db: Database, box: SecretBox, org_id: str, *, rotate: bool) -> SigningSecret:
    """The newest secret (made first if `rotate`) and when the one before stops signing, in one transaction: with
    a key that cannot open them, `Misconfigured` and nothing changed."""
    try:
        async with db.write() as session:
            now = clock.now()
            if rotate:
                await webhooks.rotate(session, box, org_id, now, signing.new_secret(), overlap=SECRET_OVERLAP)
            valid = await webhooks.valid_secrets(session, box, org_id, now, signing.new_secret())
    except UndecryptableSecret as exc:
        log.error("%s", exc)
        raise Misconfigured(f"the signing secret cannot be read: {exc}") from None
    newest = valid[0]
    previous = valid[1] if len(valid) > 1 else None
    return SigningSecret(
        secret=newest.secret,
        created_at=newest.created_at,
        previous_expires_at=previous.expires_at if previous else None,
    )
