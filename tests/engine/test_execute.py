"""`POST /agent/v1/execute`: an ephemeral agent, never listed, deleted when its run ends, whatever the end."""

import httpx
import pytest

from tests.engine.conftest import wait_for_status
from tests.engine.test_waiting import ask
from tests.support.factories import error_of, make_agent
from tests.support.workers import WorkerProcess


def _execute(client: httpx.Client, **body: object) -> dict:
    response = client.post("/agent/v1/execute", json={"model": "offline/scripted"} | body)
    assert response.status_code == 200, response.text
    return response.json()


def _listed_agents(client: httpx.Client) -> set[str]:
    return {agent["id"] for agent in client.get("/agent/v1/agents").json()["agents"]}


def test_execute_runs_an_ephemeral_agent_at_once(client: httpx.Client, worker: WorkerProcess) -> None:
    listed = make_agent(client)["id"]
    started = _execute(
        client, prompt='call bash {"command": "echo hi"}\nreply said hi', instructions="Be terse.",
        guidance="No chatter.", objectIds=["doc-1"], enabledTools=["bash"], sandbox={"cpu": 1, "memoryMiB": 512},
        metadata={"source": "test"}, maxModelRequests=5,
    )  # fmt: skip
    assert set(started) == {"runId", "agentId", "status", "message"}
    assert started["status"] == "running" and started["runId"].startswith("run_")
    assert _listed_agents(client) == {listed}  # never listed, not even while it runs
    assert wait_for_status(client, started["runId"])["status"] == "completed"

    details = client.get(f"/agent/v1/run/{started['runId']}").json()
    assert (details["agentId"], details["result"]["output"]) == (started["agentId"], "said hi")
    assert (details["objectIds"], details["metadata"]) == (["doc-1"], {"source": "test"})
    assert details["maxModelRequests"] == 5
    assert details["guidance"] == "No chatter." and details["workflowId"] is not None
    agent = client.get(f"/agent/v1/agents/{started['agentId']}").json()
    assert agent["isActive"] is False  # soft-deleted when the run ended; its run stays readable
    assert (agent["instructions"], agent["enabledTools"], agent["sandbox"]) == (
        "Be terse.", ["bash"], {"cpu": 1, "memoryMiB": 512},
    )  # fmt: skip
    assert started["runId"] in {run["id"] for run in client.get("/agent/v1/run").json()["runs"]}
    assert _listed_agents(client) == {listed}


def test_the_ephemeral_agent_is_deleted_however_the_run_ends(client: httpx.Client, worker: WorkerProcess) -> None:
    failed = _execute(client, prompt="reply hi", model="anthropic/claude-sonnet-4-5")  # no key on the worker
    waiting = _execute(client, prompt=ask("Continue?"))
    assert wait_for_status(client, failed["runId"])["status"] == "failed"
    wait_for_status(client, waiting["runId"], {"waiting"})
    assert client.get(f"/agent/v1/agents/{waiting['agentId']}").json()["isActive"] is True  # not yet: it waits
    client.post(f"/agent/v1/run/{waiting['runId']}/cancel")
    for started in (failed, waiting):
        assert client.get(f"/agent/v1/agents/{started['agentId']}").json()["isActive"] is False


def test_an_ephemeral_agent_takes_no_other_runs(client: httpx.Client) -> None:
    started = _execute(client, prompt="reply hi")
    refused = client.post("/agent/v1/run", json={"agentId": started["agentId"], "prompt": "again"})
    error_of(refused, 404, "RESOURCE_NOT_FOUND")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"prompt": ""},
        {"prompt": "x", "enabledTools": ["bash"], "disabledTools": ["read"]},
        {"prompt": "x", "model": "nowhere/model"},
        {"prompt": "x", "enabledTools": ["fly"]},
        {"prompt": "x", "sandbox": {"cpu": 99}},
        {"prompt": "x", "unknown": 1},
        {"prompt": "x", "maxCostMicros": 0},
    ],
)
def test_execute_refuses_invalid_bodies(client: httpx.Client, body: dict) -> None:
    error_of(client.post("/agent/v1/execute", json=body), 400, "INVALID_INPUT")
    assert client.get("/agent/v1/run").json()["runs"] == []
