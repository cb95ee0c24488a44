"""Heartbeats and takeovers: a dead worker's runs are taken over once, a busy worker is never taken for dead."""

import asyncio
import json
import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import insert, select

from agentruns import clock
from agentruns.engine.liveness import Liveness
from agentruns.settings import Settings
from agentruns.storage import migrate
from agentruns.storage.database import Database
from agentruns.storage.dbos_tables import tables_of
from agentruns.storage.models import Worker
from tests.engine.conftest import quick_worker, sleep_until_interrupted, wait_for_status, wait_until
from tests.sandbox.conftest import pids_running
from tests.support.databases import database_url_for, postgres_database
from tests.support.factories import make_agent, make_run
from tests.support.fleet import api_processes
from tests.support.model_stub import ModelStub
from tests.support.workers import WorkerProcess

DEAD_AFTER = 10.0


async def _rows(db: Database) -> set[str]:
    """The executor ids of the rows left in the workers table."""
    async with db.read() as session:
        return set(await session.scalars(select(Worker.executor_id)))


async def _close(db: Database, *workers: Liveness) -> None:
    for liveness in workers:
        await liveness.db.dispose()
    await db.dispose()


async def _take_over_together(url: str) -> tuple[dict[str, int], dict[str, int], set[str]]:
    """Workers `a` (its own beat late: busy) and `b` look for dead workers at the same instant; `gone` is dead."""
    db = Database(url)
    now = clock.now()
    async with db.write() as session:
        session.add_all([
            Worker(executor_id="a", started_at=now, heartbeat_at=now - timedelta(seconds=2 * DEAD_AFTER)),
            Worker(executor_id="b", started_at=now, heartbeat_at=now),
            Worker(executor_id="gone", started_at=now, heartbeat_at=now - timedelta(seconds=2 * DEAD_AFTER)),
        ])  # fmt: skip
    settings = Settings(database_url=url, worker_dead_after_seconds=DEAD_AFTER)
    a, b = Liveness(settings, "a"), Liveness(settings, "b")

    async def recover(executor_id: str) -> int:
        return len(executor_id)

    try:
        taken_by_a, taken_by_b = await asyncio.gather(a.take_over_dead_workers(recover),
                                                      b.take_over_dead_workers(recover))  # fmt: skip
        left = await _rows(db)
    finally:
        await _close(db, a, b)
    return taken_by_a, taken_by_b, left


def test_a_dead_worker_is_taken_over_once_and_a_late_worker_never_takes_itself_over(
    backend: str, tmp_path: Path
) -> None:
    with database_url_for(backend, tmp_path) as url:
        migrate.upgrade(url)
        taken_by_a, taken_by_b, left = asyncio.run(_take_over_together(url))
    assert "a" not in taken_by_a, "a worker whose own beat was late took over its own runs"
    assert taken_by_b.get("a") == 1  # to the others, a worker that misses its beats is dead
    assert [*taken_by_a, *taken_by_b].count("gone") == 1
    assert (taken_by_a | taken_by_b)["gone"] == len("gone")  # the recover count is reported
    assert left == {"b"}


async def _take_over_after_an_upgrade(url: str) -> tuple[dict[str, int], set[str]]:
    """Dead `old` had begun a workflow under workflow version 0 (still PENDING); dead `gone` had nothing left."""
    db = Database(url)
    now = clock.now()
    async with db.write() as session:
        session.add_all([
            Worker(executor_id="b", started_at=now, heartbeat_at=now),
            Worker(executor_id="old", started_at=now, heartbeat_at=now - timedelta(seconds=2 * DEAD_AFTER)),
            Worker(executor_id="gone", started_at=now, heartbeat_at=now - timedelta(seconds=2 * DEAD_AFTER)),
        ])  # fmt: skip
        await session.execute(
            insert(tables_of(session).workflow_status).values(
                workflow_uuid="wrun_old", status="PENDING", executor_id="old", application_version="0"
            )
        )
    b = Liveness(Settings(database_url=url, worker_dead_after_seconds=DEAD_AFTER), "b")

    async def recover(_executor_id: str) -> int:
        return 0  # DBOS resumes only workflows of this worker's version

    try:
        taken = await b.take_over_dead_workers(recover)
        left = await _rows(db)
    finally:
        await _close(db, b)
    return taken, left


def test_a_dead_worker_whose_workflows_another_version_began_keeps_its_row_for_a_worker_of_that_version(
    backend: str, tmp_path: Path
) -> None:
    with database_url_for(backend, tmp_path) as url:
        migrate.upgrade(url)
        taken, left = asyncio.run(_take_over_after_an_upgrade(url))
    assert taken == {"old": 0, "gone": 0}
    assert left == {"b", "old"}


def _heartbeat_age(connection: psycopg.Connection[tuple[float]]) -> float:
    row = connection.execute("SELECT extract(epoch FROM now() - heartbeat_at)::float FROM workers").fetchone()
    assert row is not None
    return row[0]


def _waiting_on_locks(connection: psycopg.Connection[tuple[int]]) -> int:
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    row = connection.execute(query).fetchone()
    assert row is not None
    return row[0]


def test_a_worker_whose_connections_all_wait_on_a_lock_keeps_beating(workspaces: Path) -> None:
    """Its one pooled connection stuck behind a lock on the runs' tables for twice the dead-after time, the worker
    still beats: another worker would otherwise take over, and execute again, the runs of a live one."""
    with postgres_database() as url:  # a lock on a table: PostgreSQL's
        migrate.upgrade(url)
        worker = WorkerProcess(url, workspaces, database_pool_size="1", worker_heartbeat_seconds="0.5",
                               worker_dead_after_seconds="2")  # fmt: skip
        try:
            with psycopg.connect(url, autocommit=True) as watcher, psycopg.connect(url) as locker:
                wait_until(lambda: _heartbeat_age(watcher) < 1)
                locker.execute("LOCK TABLE runs, run_waits, webhook_deliveries IN ACCESS EXCLUSIVE MODE")
                wait_until(lambda: _waiting_on_locks(watcher) > 0, timeout=10)
                ages: list[float] = []
                until = time.monotonic() + 4
                while time.monotonic() < until:
                    ages.append(_heartbeat_age(watcher))
                    time.sleep(0.1)
                still_blocked = _waiting_on_locks(watcher)
                locker.rollback()
        finally:
            worker.stop()
    assert still_blocked > 0, "the worker's connection was not held by the lock throughout"
    assert max(ages) < 2, f"the heartbeat was {max(ages):.1f} s old while the worker's pool waited on the lock"


async def _takeover_cut_short(url: str) -> tuple[dict[str, int], dict[str, int], set[str]]:
    """Worker `a` claims dead `gone` and takes longer than the dead-after time (beating meanwhile), then fails
    before it is done, as if it were killed; `b` looks during the takeover and after it."""
    quick = Settings(database_url=url, worker_heartbeat_seconds=0.1, worker_dead_after_seconds=0.5)
    db = Database(url)
    now = clock.now()
    async with db.write() as session:
        session.add(Worker(executor_id="gone", started_at=now, heartbeat_at=now - timedelta(seconds=5)))
    a, b = Liveness(quick, "a"), Liveness(quick, "b")
    recovering = asyncio.Event()

    async def recover_then_die(executor_id: str) -> int:
        recovering.set()
        for _ in range(10):  # 1 s: twice the dead-after time
            await a.beat()
            await asyncio.sleep(0.1)
        raise RuntimeError("killed in the middle of a takeover")

    async def recover(executor_id: str) -> int:
        return 7

    try:
        cut_short = asyncio.create_task(a.take_over_dead_workers(recover_then_die))
        await recovering.wait()
        await asyncio.sleep(0.7)  # past the dead-after time since the claim
        during = await b.take_over_dead_workers(recover)
        with pytest.raises(RuntimeError, match="killed in the middle"):
            await cut_short
        await asyncio.sleep(0.6)  # the claimed row goes stale again
        after = await b.take_over_dead_workers(recover)
        left = await _rows(db)
    finally:
        await _close(db, a, b)
    return during, after, left


def test_a_takeover_cut_short_is_finished_by_another_worker(backend: str, tmp_path: Path) -> None:
    with database_url_for(backend, tmp_path) as url:
        migrate.upgrade(url)
        during, after, left = asyncio.run(_takeover_cut_short(url))
    assert during == {}, "a worker took over a dead worker whose takeover was under way"
    assert after == {"gone": 7, "a": 7}  # `a` stopped beating too: its own runs are taken over as well
    assert left == set()  # `b` never beat here: every row was a dead worker's, and each was taken over


def test_a_worker_taken_for_dead_while_it_stalled_stops_its_run_at_its_next_write(
    model_stub: tuple[ModelStub, str], workspaces: Path
) -> None:
    """Worker a freezes (SIGSTOP) in a tool call, b takes the run over; a wakes before b is done: its tool's result is
    refused, and it sends no model request that b sends (a check of the run's state alone would let it go on)."""
    stub, stub_url = model_stub
    marker = f"stalled-{os.urandom(4).hex()}"
    seconds = f"1.{int.from_bytes(os.urandom(2)) % 10_000:04d}"  # over while a is frozen
    second = json.dumps({"command": sleep_until_interrupted(seconds, then="echo two")})
    # Each model request takes 1.5 s: b is still at its own request when a wakes.
    prompt = "\n".join([marker, "sleep 1.5", 'call bash {"command": "echo one"}', f"call bash {second}", "reply done"])
    with postgres_database() as url:
        migrate.upgrade(url)
        with api_processes(url, workspaces, count=1, key_name="stalled") as (client,):
            first = quick_worker(url, workspaces, stub_url, "stalled-a")
            second_worker: WorkerProcess | None = None
            try:
                run = make_run(client, make_agent(client, model="openai-compatible/slow")["id"], prompt=prompt)
                assert client.post(f"/agent/v1/run/{run['id']}/exec").status_code == 200
                wait_for_status(client, run["id"], {"running"})  # a has it, before b can
                second_worker = quick_worker(url, workspaces, stub_url, "stalled-b")
                wait_until(lambda: pids_running(seconds), timeout=30)
                os.kill(first.process.pid, signal.SIGSTOP)
                try:
                    wait_until(lambda: _workflow_of(url, run["id"]) == ("PENDING", "stalled-b"), timeout=30)
                finally:
                    os.kill(first.process.pid, signal.SIGCONT)
                assert wait_for_status(client, run["id"], timeout=60)["status"] == "completed"
                # DBOS's word when an execution's write finds its workflow taken (not "outcome was not recorded")
                parked = "is no longer owned by this execution. Waiting for the owner's recorded outcome"
                wait_until(lambda: any(parked in line for line in first.output))
            finally:
                first.stop()
                if second_worker is not None:
                    second_worker.stop()
            details = client.get(f"/agent/v1/run/{run['id']}").json()
    assert [step["type"] for step in details["steps"]] == ["tool_call", "tool_result"] * 2 + ["output"]
    assert [s["toolOutput"]["stdout"] for s in details["steps"] if s["type"] == "tool_result"] == ["one\n", "two\n"]
    assert len(details["usage"]["entries"]) == 3
    requests = sorted(request.tool_results for request in stub.requests_for(marker))
    assert requests == [0, 1, 2], "the stalled worker sent a model request the other worker sent too"


def _workflow_of(url: str, run_id: str) -> tuple[str, str] | None:
    """DBOS's status of the run's workflow and the executor that holds it."""
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT wf.status, wf.executor_id FROM runs JOIN dbos.workflow_status AS wf "
            "ON wf.workflow_uuid = runs.workflow_id WHERE runs.id = %s",
            (run_id,),
        ).fetchone()
    return None if row is None else (row[0], row[1])
