"""(c) Webhooks: the time from a run's end to the first POST of its webhook at a real HTTPS receiver.

Runs (the offline model answering at once, no tool) are created with a `callbackUrl` and exec'd one after
the other through the services layer, and executed by a real `agentruns worker` subprocess whose webhook
sender (`events.webhook_sender`) may call loopback (`AGENTRUNS_WEBHOOK_ALLOW_PRIVATE_TARGETS`) and trusts the
receiver's test CA. The receiver is the tests' HTTPS server (`tests/support/receiver.py`: uvicorn and
Starlette in a thread of this process), which notes when each request arrived. For each run:
`completedAt` → the first attempt's `startedAt` (the sender's wait and claim) → the request at the receiver.
The baseline is the same signed POST sent to the same receiver by the sender's own HTTP client and
`post()`, straight from this process.
"""

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import trustme
from sqlalchemy import select
from tests.support.receiver import Receiver, https_receiver
from tests.support.workers import WorkerProcess

from agentruns.engine.client import EngineClient
from agentruns.events import signing
from agentruns.events.targets import check
from agentruns.events.webhook_post import post, webhook_client
from agentruns.schemas.runs import RunCreate
from agentruns.services.execution import exec_run
from agentruns.services.runs import create_run
from agentruns.storage.database import Database
from agentruns.storage.models import Run, WebhookAttempt, WebhookDelivery
from bench.event_runs import new_organization

RECEIVE_TIMEOUT_SECONDS = 60.0
BASELINE_GAP_SECONDS = 0.1


@dataclass
class Webhooks:
    """Per run: end → first POST received, end → first attempt started, attempt started → received (ms)."""

    to_receipt_ms: list[float] = field(default_factory=list[float])
    to_attempt_ms: list[float] = field(default_factory=list[float])
    attempt_to_receipt_ms: list[float] = field(default_factory=list[float])
    baseline_ms: list[float] = field(default_factory=list[float])


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def _received_at(receiver: Receiver, path: str) -> float:
    deadline = time.monotonic() + RECEIVE_TIMEOUT_SECONDS
    while not (requests := receiver.requests_to(path)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"no webhook reached {path} in {RECEIVE_TIMEOUT_SECONDS:g} s")
        await asyncio.sleep(0.002)
    return requests[0].at


async def _runs(url: str, org_id: str, agent_id: str, receiver: Receiver, base: str, runs: int) -> Webhooks:
    result = Webhooks()
    db, engine = Database(url), EngineClient(url)
    try:
        for number in range(runs):
            path = f"/run/{number}"
            body = RunCreate(agent_id=agent_id, prompt="reply done", callback_url=base + path)
            run = await create_run(db, org_id, body, allow_private_callbacks=True)
            await exec_run(db, engine, org_id, run.id)
            received = await _received_at(receiver, path)
            async with db.read() as session:
                ended = await session.scalar(select(Run.completed_at).where(Run.id == run.id))
                attempt = await session.scalar(
                    select(WebhookAttempt.started_at)
                    .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
                    .where(WebhookDelivery.run_id == run.id, WebhookAttempt.number == 1)
                )
            assert ended is not None
            assert attempt is not None
            end, started = _aware(ended).timestamp(), _aware(attempt).timestamp()
            result.to_receipt_ms.append((received - end) * 1000)
            result.to_attempt_ms.append((started - end) * 1000)
            result.attempt_to_receipt_ms.append((received - started) * 1000)
    finally:
        engine.close()
        await db.dispose()
    return result


async def _direct(bundle: Path, receiver: Receiver, base: str, posts: int) -> list[float]:
    """The sender's client and `post()` straight to the receiver: check, sign, POST, as an attempt does."""
    client = webhook_client(str(bundle))
    secret = signing.new_secret()
    delays: list[float] = []
    try:
        for number in range(posts):
            path = f"/direct/{number}"
            body = json.dumps({"id": f"msg_{number}", "type": "agent.run.completed", "data": {"status": "completed"}})
            started = time.time()
            target = await check(base + path, allow_private=True)
            headers = signing.signed_headers(f"msg_{number}", body, [secret], datetime.now(UTC))
            answer = await post(client, target, body.encode(), headers)
            if not answer.delivered:
                raise RuntimeError(f"the direct POST failed: {answer.error}")
            delays.append((await _received_at(receiver, path) - started) * 1000)
            await asyncio.sleep(BASELINE_GAP_SECONDS)
    finally:
        await client.aclose()
    return delays


def webhook_latency(url: str, directory: Path, runs: int) -> Webhooks:
    """Measure `runs` runs' webhooks on the database at `url`, then the baseline."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    bundle = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with https_receiver(ca, directory) as (receiver, port):
        base = f"https://127.0.0.1:{port}"
        _key, org_id, agent_id = asyncio.run(new_organization(url))
        worker = WorkerProcess(
            url, directory / "workspaces", webhook_allow_private_targets="true", webhook_ca_bundle=str(bundle)
        )
        try:
            result = asyncio.run(_runs(url, org_id, agent_id, receiver, base, runs))
        finally:
            worker.stop()
        result.baseline_ms = asyncio.run(_direct(bundle, receiver, base, runs))
    return result
