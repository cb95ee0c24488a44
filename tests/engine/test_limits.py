"""The per-organization limit on concurrent runs: runs beyond it wait in order; others are not held up."""

import time
from pathlib import Path

import httpx

from agentruns.services.auth import issue_key
from agentruns.settings import Settings
from agentruns.storage import migrate
from tests.engine.conftest import wait_for_status
from tests.support.databases import database_url_for
from tests.support.factories import make_agent, make_run
from tests.support.portal import async_bridge
from tests.support.servers import running_server
from tests.support.workers import WorkerProcess


def test_runs_beyond_the_organizations_limit_stay_queued(backend: str, tmp_path: Path, workspaces: Path) -> None:
    with database_url_for(backend, tmp_path) as url:
        migrate.upgrade(url)
        with async_bridge(url) as bridge:
            busy_key = bridge.call(issue_key, bridge.db, "busy").key
            other_key = bridge.call(issue_key, bridge.db, "other").key
        worker = WorkerProcess(url, workspaces, org_concurrency="2")
        try:
            with running_server(Settings(database_url=url)) as base:
                busy = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {busy_key}"}, timeout=30)
                other = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {other_key}"}, timeout=30)
                agent = make_agent(busy)["id"]
                slow = 'call bash {"command": "sleep 1"}'
                queued = [make_run(busy, agent, prompt=slow)["id"] for _ in range(5)]
                for run_id in queued:
                    assert busy.post(f"/agent/v1/run/{run_id}/exec").status_code == 200
                time.sleep(0.5)
                other_run = make_run(other, make_agent(other)["id"], prompt="reply hi")["id"]
                assert other.post(f"/agent/v1/run/{other_run}/exec").status_code == 200
                most_running = 0
                while True:
                    statuses = [busy.get(f"/agent/v1/run/{run_id}/status").json()["status"] for run_id in queued]
                    most_running = max(most_running, statuses.count("running"))
                    if other.get(f"/agent/v1/run/{other_run}/status").json()["status"] == "completed":
                        other_done_while_busy_waits = "queued" in statuses
                        break
                    time.sleep(0.05)
                for run_id in queued:
                    wait_for_status(busy, run_id)
                starts = [busy.get(f"/agent/v1/run/{run_id}/status").json()["startedAt"] for run_id in queued]
                busy.close()
                other.close()
        finally:
            worker.stop()
    assert most_running <= 2
    assert other_done_while_busy_waits, "the other organization's run waited behind the busy one's queue"
    # Two slots: runs start in waves {1, 2}, {3, 4}, {5}, in the order they were executed.
    assert max(starts[:2]) <= min(starts[2:]), "a later run started before an earlier one"
    assert max(starts[2:4]) <= starts[4], "a later run started before an earlier one"
