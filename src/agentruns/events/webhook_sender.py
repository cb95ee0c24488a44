"""A worker's webhook sender: it claims the deliveries that are due and sends them, signed.

It claims within SWEEP_SECONDS after a transaction of this process that scheduled deliveries commits (a run
that ends here schedules its webhooks in the transaction that stores its terminal event), and every
FULL_SWEEP_SECONDS regardless (for deliveries scheduled by other processes, and for retries). Other events
do not wake it: while runs go on, a claim per event cost a write transaction twenty times a second.

Each delivery is tried up to 4 times (the first attempt and 3 retries), the n-th retry
`AGENTRUNS_WEBHOOK_RETRY_SECONDS` × 2^(n-1) after the attempt before it, jittered by ±50%. Its target is
checked again before every attempt (`events.targets`), and the attempt connects only to a checked address.
"""

import asyncio
import contextlib
import json
import logging
import time
from datetime import timedelta

from agentruns import clock
from agentruns.backoff import Backoff
from agentruns.events import signing
from agentruns.events.hub import HUB, EventHub, Waiter
from agentruns.events.targets import RefusedTarget, check
from agentruns.events.webhook_post import Answer, post, webhook_client
from agentruns.settings import Settings
from agentruns.storage.database import Database
from agentruns.storage.models import WebhookDelivery
from agentruns.storage.queries import webhooks
from agentruns.storage.queries.webhooks import MAX_ATTEMPTS
from agentruns.storage.secret_box import SecretBox, UndecryptableSecret

log = logging.getLogger("agentruns.webhooks")

SWEEP_SECONDS = 0.05
"""How often the worker calls `sweep`, which claims only when deliveries were scheduled here or the full interval
passed."""
FULL_SWEEP_SECONDS = 0.5
BATCH = 50


class WebhookSender:
    """Sends the webhooks that are due, under this worker's name (`owner`) for the leases."""

    def __init__(self, db: Database, settings: Settings, owner: str, box: SecretBox, *, hub: EventHub = HUB) -> None:
        """`box` opens the organizations' stored signing secrets."""
        self._db = db
        self._box = box
        self._settings = settings
        self._retries = Backoff(first=settings.webhook_retry_seconds)
        self._owner = owner
        self._client = webhook_client(settings.webhook_ca_bundle)
        self._hub = hub
        self._watching = contextlib.ExitStack()
        self._doorbell: Waiter | None = None
        self._claimed_at = float("-inf")

    async def start(self) -> None:
        """Take back the deliveries this worker held when it last stopped, so they are sent again at once,
        and start listening for deliveries scheduled in this process."""
        async with self._db.write() as session:
            await webhooks.release(session, self._owner)
        self._doorbell = self._watching.enter_context(self._hub.subscribe_deliveries())

    async def close(self) -> None:
        """Stop listening and close the HTTP client."""
        self._watching.close()
        await self._client.aclose()

    async def sweep(self) -> None:
        """Send every delivery that is due now (up to a batch), each to its end or to its next retry, if this
        process scheduled deliveries since the last claim or FULL_SWEEP_SECONDS passed; else nothing."""
        rung = self._doorbell is None or self._doorbell.rung
        if not rung and time.monotonic() - self._claimed_at < FULL_SWEEP_SECONDS:
            return
        if self._doorbell is not None:
            self._doorbell.reset()
        self._claimed_at = time.monotonic()
        async with self._db.write() as session:
            claimed = await webhooks.claim_due(session, self._owner, clock.now(), limit=BATCH)
        if claimed:
            await asyncio.gather(*(self._attempt(delivery) for delivery in claimed))

    async def _attempt(self, delivery: WebhookDelivery) -> None:
        answer = await self._send(delivery)
        now = clock.now()
        retry_at = None
        if not answer.delivered and delivery.attempts < MAX_ATTEMPTS:
            retry_at = now + timedelta(seconds=self._retries.after(delivery.attempts))
        if not answer.delivered:
            log.info("webhook %s attempt %d failed: %s", delivery.id, delivery.attempts, answer.error)
        async with self._db.write() as session:
            await webhooks.finish_attempt(
                session, delivery.id, delivery.attempts, now,
                status_code=answer.status_code, error=None if answer.delivered else answer.error, retry_at=retry_at,
            )  # fmt: skip

    async def _send(self, delivery: WebhookDelivery) -> Answer:
        allow_private = self._settings.webhook_allow_private_targets
        try:
            target = await check(delivery.url, allow_private=allow_private)
        except RefusedTarget as exc:
            return Answer(None, f"refused: {exc}")
        body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False)
        try:
            async with self._db.write() as session:
                valid = await webhooks.valid_secrets(
                    session, self._box, delivery.org_id, clock.now(), signing.new_secret()
                )
        except UndecryptableSecret as exc:  # a wrong key: nothing is sent unsigned; retried, as the key may be fixed
            log.error("webhook %s: %s", delivery.id, exc)
            return Answer(None, f"not sent: {exc}")
        headers = signing.signed_headers(delivery.id, body, [secret.secret for secret in valid], clock.now())
        try:
            return await post(self._client, target, body.encode(), headers)
        except Exception as exc:  # an attempt that breaks is a failed attempt, never a stuck delivery
            log.exception("webhook %s: the attempt broke", delivery.id)
            return Answer(None, f"{type(exc).__name__}: {exc}")
