"""Webhook deliveries, their attempts, and organizations' signing secrets.

A delivery is scheduled in the transaction that ends its run (or that registers a watcher on a run that has
already ended), so it exists if and only if the run's end does. Workers claim due deliveries under a lease,
so no two send one at once; a worker that dies leaves its claims to expire, or to itself when it restarts.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.ids import new_id
from agentruns.schemas import events as payloads
from agentruns.schemas.views import OrgOutcome
from agentruns.storage import commits
from agentruns.storage.database import on_commit
from agentruns.storage.models import RunWatcher, WebhookAttempt, WebhookDelivery, WebhookSecret
from agentruns.storage.queries.inserts import insert_once, insert_once_on
from agentruns.storage.secret_box import SecretBox

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
MAX_ATTEMPTS = 4
"""The first attempt and three retries."""
LEASE_SECONDS = 60.0
"""How long a claimed delivery is its worker's: well over an attempt's time limit."""
INTERRUPTED = "interrupted: the worker stopped before the target answered"


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def schedule(session: AsyncSession, run: OrgOutcome, now: datetime) -> int:
    """Schedule a delivery of the ended run's outcome to each of its watchers that has none yet."""
    scheduled = await session.run_sync(lambda sync: schedule_on(sync.connection(), run, now))
    if scheduled:
        on_commit(session, "wake the webhook sender", commits.deliveries_scheduled)  # this process's sender
    return scheduled


UNSERVED = (
    select(RunWatcher.id, RunWatcher.url)
    .where(RunWatcher.run_id == bindparam("run_id"))
    .where(~exists().where(WebhookDelivery.run_id == RunWatcher.run_id, WebhookDelivery.watcher_id == RunWatcher.id))
)
"""The watchers of the run `run_id` that have no delivery yet (`id`, `url`)."""


def schedule_on(connection: Connection, run: OrgOutcome, now: datetime) -> int:
    """`schedule` on a Core connection (`Database.write_core`), whose caller wakes this process's webhook sender
    (`commits.deliveries_scheduled`) once the transaction commits, if any delivery was scheduled."""
    rows = deliveries(run, connection.execute(UNSERVED, {"run_id": run.id}).all(), now)
    insert_once_on(connection, WebhookDelivery, rows)
    return len(rows)


def deliveries(run: OrgOutcome, unserved: Sequence[Sequence[str]], now: datetime) -> list[dict[str, object]]:
    """The deliveries of the ended run's outcome to its `unserved` watchers (rows of `UNSERVED`), to insert."""
    if not unserved:  # most runs
        return []
    outcome = payloads.run_outcome(run, now)
    event_type = f"agent.run.{run.status}"
    rows: list[dict[str, object]] = []
    for watcher_id, url in unserved:
        delivery_id = new_id("msg")
        envelope = {"id": delivery_id, "type": event_type, "timestamp": _iso(run.completed_at or now), "data": outcome}
        rows.append({
            "id": delivery_id, "run_id": run.id, "watcher_id": watcher_id, "org_id": run.org_id, "url": url,
            "event_type": event_type, "payload": envelope, "status": PENDING, "attempts": 0, "next_attempt_at": now,
            "lease_owner": None, "lease_until": None, "created_at": now, "completed_at": None,
        })  # fmt: skip
    return rows


async def claim_due(session: AsyncSession, owner: str, now: datetime, *, limit: int) -> Sequence[WebhookDelivery]:
    """Lease up to `limit` due deliveries to `owner` and start an attempt of each (their `attempts` counts it)."""
    free = or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now)
    due = (WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now, free)
    # A delivery whose last attempt was cut short by a crash has no attempt left: it has failed.
    await session.execute(
        update(WebhookDelivery)
        .where(*due, WebhookDelivery.attempts >= MAX_ATTEMPTS)
        .values(status=FAILED, completed_at=now, next_attempt_at=None, lease_owner=None, lease_until=None)
    )
    query = select(WebhookDelivery.id).where(*due).order_by(WebhookDelivery.next_attempt_at).limit(limit)
    ids = list(await session.scalars(query.with_for_update(skip_locked=True)))
    if not ids:
        return []
    await session.execute(
        update(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(ids), WebhookAttempt.finished_at.is_(None))
        .values(finished_at=now, error=INTERRUPTED)
    )
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids))
        .values(
            attempts=WebhookDelivery.attempts + 1,
            lease_owner=owner,
            lease_until=now + timedelta(seconds=LEASE_SECONDS),
        )
    )
    claimed = (
        await session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.id.in_(ids)).execution_options(populate_existing=True)
        )
    ).all()
    await insert_once(
        session,
        WebhookAttempt,
        [{"delivery_id": delivery.id, "number": delivery.attempts, "started_at": now} for delivery in claimed],
    )
    return claimed


async def finish_attempt(
    session: AsyncSession,
    delivery_id: str,
    number: int,
    now: datetime,
    *,
    status_code: int | None,
    error: str | None,
    retry_at: datetime | None,
) -> None:
    """Record how an attempt went; the delivery is done (delivered, or failed without `retry_at`) or waits."""
    await session.execute(
        update(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id, WebhookAttempt.number == number)
        .values(finished_at=now, status_code=status_code, error=error)
    )
    if error is None:
        ending = {"status": DELIVERED, "completed_at": now, "next_attempt_at": None}
    elif retry_at is None:
        ending = {"status": FAILED, "completed_at": now, "next_attempt_at": None}
    else:
        ending = {"next_attempt_at": retry_at}
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.attempts == number)
        .values(lease_owner=None, lease_until=None, **ending)
    )


async def release(session: AsyncSession, owner: str) -> None:
    """Free the deliveries `owner` held (a restarted worker of that name resumes them at once)."""
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.lease_owner == owner, WebhookDelivery.status == PENDING)
        .values(lease_owner=None, lease_until=None)
    )


async def of_run(
    session: AsyncSession, run_id: str
) -> list[tuple[RunWatcher, WebhookDelivery | None, Sequence[WebhookAttempt]]]:
    """Each watcher of the run, in the order they were registered, with its delivery and its attempts."""
    watchers = (
        await session.scalars(
            select(RunWatcher).where(RunWatcher.run_id == run_id).order_by(RunWatcher.created_at, RunWatcher.id)
        )
    ).all()
    deliveries = {
        delivery.watcher_id: delivery
        for delivery in await session.scalars(select(WebhookDelivery).where(WebhookDelivery.run_id == run_id))
    }
    attempts: dict[str, list[WebhookAttempt]] = {}
    if deliveries:
        ids = [delivery.id for delivery in deliveries.values()]
        query = select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids)).order_by(WebhookAttempt.number)
        for attempt in await session.scalars(query):
            attempts.setdefault(attempt.delivery_id, []).append(attempt)
    listed: list[tuple[RunWatcher, WebhookDelivery | None, Sequence[WebhookAttempt]]] = []
    for watcher in watchers:
        delivery = deliveries.get(watcher.id)
        listed.append((watcher, delivery, attempts.get(delivery.id, []) if delivery else []))
    return listed


@dataclass(frozen=True, slots=True)
class SigningSecret:
    """A version of an organization's signing secret, decrypted."""

    secret: str
    created_at: datetime
    expires_at: datetime | None


async def valid_secrets(
    session: AsyncSession, box: SecretBox, org_id: str, now: datetime, new: str
) -> list[SigningSecret]:
    """The organization's secrets that still sign, newest first, decrypted with `box`; the first is created (as
    `new`, sealed) if it has none. `UndecryptableSecret` if `box` has not the key that sealed one."""
    query = (
        select(WebhookSecret)
        .where(
            WebhookSecret.org_id == org_id,
            or_(WebhookSecret.expires_at.is_(None), WebhookSecret.expires_at > now),
        )
        .order_by(WebhookSecret.version.desc())
    )
    found = (await session.scalars(query)).all()
    if not found:
        await insert_once(
            session,
            WebhookSecret,
            [{"org_id": org_id, "version": 1, "sealed_secret": box.seal(new), "created_at": now, "expires_at": None}],
        )
        found = (await session.scalars(query.execution_options(populate_existing=True))).all()
    return [SigningSecret(box.open(row.sealed_secret), row.created_at, row.expires_at) for row in found]


async def rotate(
    session: AsyncSession, box: SecretBox, org_id: str, now: datetime, new: str, *, overlap: timedelta
) -> None:
    """Make `new` (sealed with `box`) the organization's secret; the one it replaces keeps signing for `overlap`."""
    current = await session.scalar(
        select(WebhookSecret).where(WebhookSecret.org_id == org_id).order_by(WebhookSecret.version.desc()).limit(1)
    )
    version = 1 if current is None else current.version + 1
    if current is not None and current.expires_at is None:
        current.expires_at = now + overlap
    await insert_once(
        session,
        WebhookSecret,
        [{"org_id": org_id, "version": version, "sealed_secret": box.seal(new), "created_at": now, "expires_at": None}],
    )


async def reseal_all(session: AsyncSession, box: SecretBox) -> int:
    """Encrypt every stored secret again under `box`'s first key (after a new key was put first); how many.
    `UndecryptableSecret` (and nothing changed, once the transaction rolls back) if one was sealed with no key of
    `box`."""
    rows = (await session.scalars(select(WebhookSecret).with_for_update())).all()
    for row in rows:
        row.sealed_secret = box.reseal(row.sealed_secret)
    return len(rows)
