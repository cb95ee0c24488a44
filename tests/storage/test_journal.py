"""A workflow's journal is forgotten once DBOS records that the workflow ended, and not before."""

import httpx
from sqlalchemy import func, select

from agentruns.storage.models import JournalEntry
from agentruns.storage.queries.inserts import insert_once
from tests.engine.conftest import wait_for_status, wait_until
from tests.support.factories import make_agent, make_run
from tests.support.portal import AsyncBridge
from tests.support.workers import WorkerProcess


def test_the_worker_forgets_the_journal_of_an_ended_workflow_and_keeps_the_others(
    client: httpx.Client, bridge: AsyncBridge, worker: WorkerProcess
) -> None:
    agent = make_agent(client, model="offline/scripted")
    unended = make_run(client, agent["id"])["id"]  # never executed: it has no workflow, so nothing ended

    async def add_entry() -> None:
        async with bridge.db.write() as session:
            await insert_once(session, JournalEntry, [{"run_id": unended, "execution": 0, "number": 1, "value": b"x"}])

    async def entries(run_id: str) -> int:
        async with bridge.db.read() as session:
            return await session.scalar(select(func.count()).where(JournalEntry.run_id == run_id)) or 0

    bridge.call(add_entry)
    prompt = 'call write {"path": "notes.txt", "content": "hello"}\nreply done'
    run_id = make_run(client, agent["id"], prompt=prompt)["id"]
    assert client.post(f"/agent/v1/run/{run_id}/exec").status_code == 200
    assert wait_for_status(client, run_id)["status"] == "completed"
    wait_until(lambda: bridge.call(entries, run_id) == 0, timeout=30)  # the worker looks every 5 s
    assert bridge.call(entries, unended) == 1
