"""Child runs: the `task` tool starts a run of an agent of the organization and waits for its answer."""

import json
from typing import Any

import httpx

from agentruns.engine.launch import child_run_id
from tests.engine.conftest import wait_for_status, wait_until
from tests.engine.test_waiting import ask
from tests.support.factories import make_agent, make_run
from tests.support.model_stub import CACHED_TOKENS
from tests.support.workers import WorkerProcess


def delegate(prompt: str, agent_id: str | None = None) -> str:
    """A `task` directive for the offline model: start a child run with this prompt."""
    arguments = {"prompt": prompt} | ({"agent_id": agent_id} if agent_id else {})
    return f"call task {json.dumps(arguments)}"


def chain(levels: int, innermost: str) -> str:
    """The prompt of a run that starts a child, that starts a child … `levels` deep; the last one gets `innermost`."""
    prompt = innermost
    for _ in range(levels):
        prompt = delegate(prompt)
    return prompt


def execute(client: httpx.Client, agent_id: str, prompt: str) -> str:
    run_id = make_run(client, agent_id, prompt=prompt)["id"]
    assert client.post(f"/agent/v1/run/{run_id}/exec").status_code == 200
    return run_id


def children_of(client: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    return client.get("/agent/v1/run", params={"parentRunId": run_id}).json()["runs"]


def test_a_child_run_of_another_agent_answers_its_parent(client: httpx.Client, worker: WorkerProcess) -> None:
    parent_agent = make_agent(client)["id"]
    # The helper runs on the stub (priced as gpt-4o, with cached tokens); the parent on the free offline model.
    helper = make_agent(client, name="helper", instructions="Answer briefly.", model="openai-compatible/gpt-4o")["id"]
    parent = execute(client, parent_agent, delegate("reply forty-two", helper))
    assert wait_for_status(client, parent)["status"] == "completed"

    children = children_of(client, parent)
    assert len(children) == 1
    child = children[0]
    assert (child["agentId"], child["parentRunId"], child["status"]) == (helper, parent, "completed")
    assert child["id"] == child_run_id(parent, 0, "offline-call-1")  # the same tool call makes the same child
    details = client.get(f"/agent/v1/run/{parent}").json()
    assert [(c["id"], c["status"]) for c in details["children"]] == [(child["id"], "completed")]
    result = details["steps"][1]
    assert (result["type"], result["toolName"]) == ("tool_result", "task")
    assert result["toolOutput"] == {"runId": child["id"], "status": "completed", "output": "forty-two"}
    assert child["model"] == "openai-compatible/gpt-4o"  # the child runs on its own agent's model
    assert "forty-two" in details["result"]["output"]

    child_details = client.get(f"/agent/v1/run/{child['id']}").json()
    assert child_details["parentRunId"] == parent and child_details["prompt"] == "reply forty-two"
    own, theirs = details["usage"], child_details["usage"]
    assert own["summary"]["totalTokens"] == own["inputTokens"] + own["outputTokens"] + theirs["summary"]["totalTokens"]
    assert theirs["cachedTokens"] == CACHED_TOKENS and theirs["summary"]["costMicros"] > 0
    assert (own["cachedTokens"], own["summary"]["cachedTokens"]) == (0, CACHED_TOKENS)
    assert own["summary"]["costMicros"] == theirs["summary"]["costMicros"]  # the parent's own requests are free
    assert all(entry["id"].startswith("usage_" + parent.removeprefix("run_")) for entry in own["entries"])
    assert sum(entry["costMicros"] for entry in own["entries"]) == 0
    assert parent not in {run["id"] for run in children_of(client, child["id"])}
    assert [run["id"] for run in children_of(client, child["id"])] == []


def test_a_child_that_fails_hands_its_error_to_its_parent(client: httpx.Client, worker: WorkerProcess) -> None:
    no_key = make_agent(client, model="anthropic/claude-sonnet-4-5")["id"]  # the worker has no ANTHROPIC_API_KEY
    prompt = delegate("reply hi", no_key) + "\n" + delegate("reply hi", "agent_nope")
    parent = execute(client, make_agent(client)["id"], prompt)
    assert wait_for_status(client, parent)["status"] == "completed"
    steps = client.get(f"/agent/v1/run/{parent}").json()["steps"]
    results = [step["toolOutput"] for step in steps if step["type"] == "tool_result"]
    assert results[0]["status"] == "failed" and results[0]["error"]["code"] == "AUTHORIZATION_ERROR"
    assert "agent_nope" in results[1]["error"]  # refused before any child is made: the model hears why
    assert len(children_of(client, parent)) == 1


def test_a_three_level_tree_is_cancelled_from_the_top(client: httpx.Client, worker: WorkerProcess) -> None:
    root = execute(client, make_agent(client)["id"], chain(2, ask("Proceed?")))
    wait_until(lambda: len(children_of(client, root)) == 1)
    child = children_of(client, root)[0]["id"]
    wait_until(lambda: len(children_of(client, child)) == 1)
    grandchild = children_of(client, child)[0]["id"]
    for run_id in (grandchild, child, root):
        wait_for_status(client, run_id, {"waiting"})
    assert client.get(f"/agent/v1/run/{child}").json()["waitingFor"] == [
        {"id": "offline-call-1", "kind": "run", "question": None, "runId": grandchild}
    ]
    assert client.post(f"/agent/v1/run/{root}/cancel").json()["status"] == "cancelled"
    for run_id in (root, child, grandchild):
        details = client.get(f"/agent/v1/run/{run_id}").json()
        assert (details["status"], details["runtimeState"]) == ("cancelled", "archived"), run_id


def test_child_runs_nest_no_deeper_than_the_depth_limit(client: httpx.Client, worker: WorkerProcess) -> None:
    root = execute(client, make_agent(client)["id"], chain(5, "reply bottom"))  # the limit (3) stops it at depth 3
    assert wait_for_status(client, root)["status"] == "completed"
    runs = [root]
    while children := children_of(client, runs[-1]):
        runs.append(children[0]["id"])
    assert len(runs) == 4
    deepest = client.get(f"/agent/v1/run/{runs[-1]}").json()
    assert "AGENTRUNS_MAX_RUN_DEPTH" in deepest["steps"][1]["toolOutput"]["error"]
    assert all(client.get(f"/agent/v1/run/{run_id}/status").json()["status"] == "completed" for run_id in runs)
