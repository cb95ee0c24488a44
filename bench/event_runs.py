"""The runs the event benchmarks stream: created through the services on a migrated database, never executed."""

import asyncio
from dataclasses import dataclass

from agentruns.schemas.agents import AgentCreate
from agentruns.schemas.runs import RunCreate
from agentruns.services.agents import create_agent
from agentruns.services.auth import issue_key, organization_of_key
from agentruns.services.runs import create_run
from agentruns.settings import Settings
from agentruns.storage import migrate
from agentruns.storage.database import Database
from agentruns.storage.queries import events
from agentruns.storage.queries.events import EventDraft
from bench.event_payloads import step_payload

BATCH = 500


@dataclass(frozen=True, slots=True)
class BenchRun:
    """A queued run (its first event, `run.status`, is stored) and a key of its organization."""

    key: str
    org_id: str
    agent_id: str
    run_id: str


async def new_organization(url: str) -> tuple[str, str, str]:
    """Migrate the database and make an organization with a key and an agent: (key, org id, agent id)."""
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    try:
        key = (await issue_key(db, "bench-events")).key
        org_id = await organization_of_key(db, Settings(database_url=url), key)
        body = AgentCreate(name="bench", instructions="Answer.", model="offline/scripted")
        agent = await create_agent(db, org_id, body)
        return key, org_id, agent.id
    finally:
        await db.dispose()


async def new_run(url: str, stored_events: int = 0) -> BenchRun:
    """A new queued run of a new organization, with `stored_events` `run.step` events after its first."""
    key, org_id, agent_id = await new_organization(url)
    db = Database(url)
    try:
        run = await create_run(db, org_id, RunCreate(agent_id=agent_id, prompt="reply done"))
        for start in range(0, stored_events, BATCH):
            drafts = [
                EventDraft("run.step", step_payload(number), source=f"bench:{number}")
                for number in range(start, min(start + BATCH, stored_events))
            ]
            async with db.write() as session:
                await events.append(session, run.id, drafts)
        return BenchRun(key=key, org_id=org_id, agent_id=agent_id, run_id=run.id)
    finally:
        await db.dispose()


async def end_stream(url: str, run_id: str) -> None:
    """Store a terminal event, so that the run's streams send it, then `close`, and end."""
    db = Database(url)
    try:
        async with db.write() as session:
            await events.append(session, run_id, [EventDraft("run.completed", {"status": "completed"})])
    finally:
        await db.dispose()
