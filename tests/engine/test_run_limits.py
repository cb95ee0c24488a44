"""A run's limits (its own, else its agent's, else the deployment's) stop it with an error that names the limit;
a provider's refusal ends it with the contract's code for it."""

import os

import httpx

from tests.engine.conftest import wait_for_status
from tests.support.factories import make_agent, make_run
from tests.support.model_stub import ModelStub
from tests.support.workers import WorkerProcess

THREE_CALLS = "\n".join(['call bash {"command": "echo one"}'] * 3)


def _execute(client: httpx.Client, agent_id: str, prompt: str, **fields: object) -> str:
    run_id = make_run(client, agent_id, prompt=prompt, **fields)["id"]
    assert client.post(f"/agent/v1/run/{run_id}/exec").status_code == 200
    return run_id


def _ended(client: httpx.Client, run_id: str) -> dict:
    wait_for_status(client, run_id)
    return client.get(f"/agent/v1/run/{run_id}").json()


def test_a_run_is_stopped_by_its_cost_limit(
    client: httpx.Client, worker: WorkerProcess, model_stub: tuple[ModelStub, str]
) -> None:
    stub, _ = model_stub
    marker = f"costly-{os.urandom(4).hex()}"
    agent = make_agent(client, model="openai-compatible/gpt-4o", maxCostMicros=1_000_000)["id"]
    details = _ended(client, _execute(client, agent, f"{marker}\n{THREE_CALLS}", maxCostMicros=1))
    assert details["status"] == "failed" and details["maxCostMicros"] == 1
    assert details["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert "maxCostMicros is 1" in details["error"]["message"]
    assert len(details["usage"]["entries"]) == 1  # the request that reached the limit is recorded, no other is made
    assert len(stub.requests_for(marker)) == 1
    assert [step["type"] for step in details["steps"]] == ["tool_call"]  # its tool call was not run
    cost = details["usage"]["summary"]["costMicros"]
    assert f"it has cost {cost} micro-dollars" in details["error"]["message"]


def test_the_agents_cost_limit_applies_to_its_runs(
    client: httpx.Client, worker: WorkerProcess, model_stub: tuple[ModelStub, str]
) -> None:
    agent = make_agent(client, model="openai-compatible/gpt-4o", maxCostMicros=1)
    assert agent["maxCostMicros"] == 1
    details = _ended(client, _execute(client, agent["id"], THREE_CALLS))
    assert (details["status"], details["error"]["code"]) == ("failed", "RATE_LIMIT_EXCEEDED")
    assert details["maxCostMicros"] is None  # the run set none; its agent's applied


def test_a_run_is_stopped_by_its_model_request_limit(client: httpx.Client, worker: WorkerProcess) -> None:
    agent = make_agent(client, maxModelRequests=50)["id"]
    details = _ended(client, _execute(client, agent, THREE_CALLS, maxModelRequests=2))
    assert details["status"] == "failed"
    assert details["error"] == {
        "code": "RATE_LIMIT_EXCEEDED", "message": "the run reached its limit of 2 model requests (maxModelRequests)",
    }  # fmt: skip
    assert len(details["usage"]["entries"]) == 2


def test_a_runs_time_limit_overrides_its_agents(client: httpx.Client, worker: WorkerProcess) -> None:
    agent = make_agent(client, maxDurationMs=600_000)["id"]
    details = _ended(client, _execute(client, agent, 'call bash {"command": "sleep 30"}', maxDurationMs=1000))
    assert (details["status"], details["error"]["code"]) == ("timeout", "TIMEOUT")
    assert "1 s" in details["error"]["message"]


def test_a_providers_rate_limit_fails_the_run_with_rate_limit_exceeded(
    client: httpx.Client, worker: WorkerProcess
) -> None:
    details = _ended(client, _execute(client, make_agent(client, model="openai-compatible/busy")["id"], "fail 429"))
    assert details["status"] == "failed"
    assert details["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert "rate limit" in details["error"]["message"] and "429" in details["error"]["message"]
