"""A workflow's journal is forgotten once DBOS records that the workflow ended, and not before."""

import httpx
from sqlalchemy import func, insert, select

from agentruns.storage.dbos_tables import tables_of
from agentruns.storage.models import JournalEntry
from agentruns.storage.queries import journal
from agentruns.storage.queries.inserts import insert_once
from tests.engine.conftest import wait_for_status, wait_until
from tests.support.factories import make_agent, make_run
from tests.support.portal import AsyncBridge, async_bridge
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


def test_only_executions_whose_workflow_ended_are_forgotten_looking_a_page_at_a_time(
    fresh: tuple[str, httpx.Client],
) -> None:
    url, client = fresh
    agent = make_agent(client)
    runs = [make_run(client, agent["id"])["id"] for _ in range(4)]
    # run 0: its first execution ended, its resume (execution 1) runs; run 1 failed; run 2 runs; run 3 never ran
    workflows = {(runs[0], 0): "SUCCESS", (runs[0], 1): "PENDING", (runs[1], 0): "ERROR", (runs[2], 0): "PENDING"}
    executions = [*workflows, (runs[3], 0)]

    def workflow_of(run_id: str, execution: int) -> str:
        return f"wf-{run_id}-{execution}"

    async def scenario() -> tuple[list[int], set[tuple[str, int]]]:
        async with bridge.db.write() as session:
            rows = [{"run_id": run_id, "execution": execution, "number": number, "value": b"x"}
                    for run_id, execution in executions for number in (1, 2)]  # fmt: skip
            await insert_once(session, JournalEntry, rows)
            table = tables_of(session).workflow_status
            for (run_id, execution), status in workflows.items():
                await session.execute(insert(table).values(workflow_uuid=workflow_of(run_id, execution), status=status))
        forgotten, after = [], None
        while True:  # two executions a look, from the first to the last
            async with bridge.db.write() as session:
                count, after = await journal.forget_ended(session, workflow_of, after=after, limit=2)
            forgotten.append(count)
            if after is None:
                break
        async with bridge.db.read() as session:
            left = set(await session.execute(select(JournalEntry.run_id, JournalEntry.execution)))
        return forgotten, {(run_id, execution) for run_id, execution in left}

    with async_bridge(url) as bridge:
        forgotten, left = bridge.call(scenario)
    assert sum(forgotten) == 2
    assert len(forgotten) == 3  # 5 executions, 2 a look
    assert left == {(runs[0], 1), (runs[2], 0), (runs[3], 0)}
