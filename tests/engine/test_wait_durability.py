"""A wait outlives the processes: a waiting run survives a restart of the server and holds no worker slot; a
wait past its limit ends the run as `timeout`."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentruns.services.auth import issue_key
from agentruns.storage import migrate
from tests.engine.conftest import wait_for_status
from tests.engine.test_waiting import ask
from tests.support.databases import database_url_for
from tests.support.factories import make_agent, make_run
from tests.support.portal import async_bridge
from tests.support.servers import free_port
from tests.support.workers import WorkerProcess


@pytest.fixture
def own_database(backend: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A database of the test's own (no other worker takes its runs) and a key of an organization in it."""
    with database_url_for(backend, tmp_path) as url:
        migrate.upgrade(url)
        with async_bridge(url) as bridge:
            key = bridge.call(issue_key, bridge.db, "waits").key
        yield url, key


def _exec(client: httpx.Client, agent_id: str, prompt: str) -> str:
    run_id = make_run(client, agent_id, prompt=prompt)["id"]
    assert client.post(f"/agent/v1/run/{run_id}/exec").status_code == 200
    return run_id


def test_a_wait_survives_a_restart_of_the_server_holds_no_slot_and_ends_at_its_limit(
    own_database: tuple[str, str], workspaces: Path
) -> None:
    url, key = own_database
    port = free_port()

    def serve(**settings: str) -> WorkerProcess:  # the embedded API and worker, one run of the organization at once
        return WorkerProcess(url, workspaces, command=("serve", "--port", str(port)), org_concurrency="1",
                             ready="Uvicorn running on", log_level="info", **settings)  # fmt: skip

    server = serve()
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    try:
        agent = make_agent(client)["id"]
        waiting = _exec(client, agent, ask("Ship it?", "reply shipped"))
        wait_for_status(client, waiting, {"waiting"})
        other = _exec(client, agent, "reply done")
        assert wait_for_status(client, other)["status"] == "completed"  # with one slot: the waiting run holds none
        server.kill()
        # A wait's deadline is fixed when it begins: the new limit applies to the waits that begin from now on.
        server = serve(wait_time_limit_seconds="1")
        assert client.get(f"/agent/v1/run/{waiting}").json()["waitingFor"][0]["question"] == "Ship it?"
        assert client.post(f"/agent/v1/run/{waiting}/input", json={"answer": "yes"}).status_code == 200
        assert wait_for_status(client, waiting)["status"] == "completed"
        answered = client.get(f"/agent/v1/run/{waiting}").json()
        forgotten = _exec(client, agent, ask("Anyone there?"))
        assert wait_for_status(client, forgotten)["status"] == "timeout"
        timed_out = client.get(f"/agent/v1/run/{forgotten}").json()
    finally:
        client.close()
        server.stop()
    assert answered["result"]["output"] == "shipped"
    assert answered["steps"][1]["toolOutput"] == "yes"
    assert timed_out["error"]["code"] == "TIMEOUT"
    assert "wait limit of 1 s (AGENTRUNS_WAIT_TIME_LIMIT_SECONDS)" in timed_out["error"]["message"]
    assert timed_out["failedAt"] is not None and timed_out["runtimeState"] == "archived"
