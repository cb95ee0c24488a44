"""`/agent/v1/run`: create, list, status and details of queued runs; the routes not served yet."""

import threading
from typing import Any

import httpx
import pytest

from tests.support.factories import error_of, make_agent, make_run

DETAILS_FIELDS = {
    "id", "agentId", "status", "prompt", "guidance", "model", "objectIds", "workflowId", "provider", "runtimeId",
    "runtimeState", "createdAt", "startedAt", "completedAt", "failedAt", "error", "result", "usage", "steps",
    "parentRunId", "children", "metadata", "maxDurationMs", "maxModelRequests", "maxCostMicros", "waitingFor",
    "waitDeadline",
}  # fmt: skip


def test_create_queues_the_run(client: httpx.Client) -> None:
    agent = make_agent(client)
    response = client.post(
        "/agent/v1/run", json={"agentId": agent["id"], "prompt": "Do it.", "objectIds": ["obj_1", "obj_2"]}
    )
    assert response.status_code == 200
    run = response.json()
    assert set(run) == {"id", "agentId", "status", "objectIds", "metadata", "createdAt"}
    assert run["id"].startswith("run_") and run["status"] == "queued"
    assert run["agentId"] == agent["id"] and run["objectIds"] == ["obj_1", "obj_2"]


def test_details_of_a_queued_run_have_every_field(client: httpx.Client) -> None:
    agent = make_agent(client, model="offline/scripted")
    run = make_run(client, agent["id"], prompt="Plan.", guidance="Be brief.", objectIds=["o"])
    for path in (f"/agent/v1/run/{run['id']}/details", f"/agent/v1/run/{run['id']}"):
        details = client.get(path).json()
        assert set(details) == DETAILS_FIELDS
        assert details["status"] == "queued" and details["prompt"] == "Plan." and details["guidance"] == "Be brief."
        assert details["model"] == "offline/scripted" and details["objectIds"] == ["o"]
        for field in ("workflowId", "provider", "runtimeId", "runtimeState", "startedAt", "completedAt", "error"):
            assert details[field] is None, field
        assert details["result"] == {
            "output": None,
            "outputObjectIds": [],
            "finalResponse": {"summary": None, "createdObjectIds": [], "issues": []},
            "logs": {"runtime": "", "runner": ""},
        }
        assert details["usage"] == {
            "model": "offline/scripted", "inputTokens": 0, "outputTokens": 0, "cachedTokens": 0, "toolCalls": 0,
            "durationMs": None, "entries": [],
            "summary": {"costMicros": 0, "totalInputTokens": 0, "totalOutputTokens": 0, "totalTokens": 0,
                        "cachedTokens": 0},
        }  # fmt: skip
        assert details["steps"] == []


def test_run_model_overrides_the_agents(client: httpx.Client) -> None:
    agent = make_agent(client, model="offline/scripted")
    run = make_run(client, agent["id"], model="openai/gpt-4o-mini")
    assert client.get(f"/agent/v1/run/{run['id']}").json()["model"] == "openai/gpt-4o-mini"
    assert client.get("/agent/v1/run").json()["runs"][0]["model"] == "openai/gpt-4o-mini"


def test_status_of_a_queued_run(client: httpx.Client) -> None:
    run = make_run(client, make_agent(client)["id"])
    assert client.get(f"/agent/v1/run/{run['id']}/status").json() == {
        "id": run["id"], "status": "queued", "startedAt": None, "completedAt": None, "durationMs": None,
    }  # fmt: skip


def test_callback_url_is_stored_and_must_be_https(client: httpx.Client, bridge: Any) -> None:
    from agentruns.storage.queries import runs

    agent = make_agent(client)
    run = make_run(client, agent["id"], callbackUrl="https://hooks.example.com/agent")

    async def urls() -> list[str]:
        async with bridge.db.read() as session:
            return list(await runs.watcher_urls(session, run["id"]))

    assert bridge.call(urls) == ["https://hooks.example.com/agent"]
    body = {"agentId": agent["id"], "prompt": "x", "callbackUrl": "http://hooks.example.com/agent"}
    error_of(client.post("/agent/v1/run", json=body), 400, "INVALID_INPUT")


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": "x"},
        {"agentId": "a"},
        {"agentId": "a", "prompt": ""},
        {"agentId": "a", "prompt": 1},
        {"agentId": "a", "prompt": "x", "objectIds": "o"},
        {"agentId": "a", "prompt": "x", "model": "nonsense"},
        {"agentId": "a", "prompt": "x", "callbackUrl": "not a url"},
    ],
)
def test_create_refuses_invalid_bodies(client: httpx.Client, body: dict[str, Any]) -> None:
    error_of(client.post("/agent/v1/run", json=body), 400, "INVALID_INPUT")


def test_create_refuses_an_unknown_agent(client: httpx.Client) -> None:
    error_of(client.post("/agent/v1/run", json={"agentId": "agent_nope", "prompt": "x"}), 404, "RESOURCE_NOT_FOUND")


def test_list_cuts_the_prompt_to_200_characters(client: httpx.Client) -> None:
    agent = make_agent(client)
    prompt = "".join(chr(0x3B1 + i % 20) for i in range(500))  # not ASCII: cut by characters, not bytes
    run = make_run(client, agent["id"], prompt=prompt)
    listed = client.get("/agent/v1/run").json()["runs"][0]
    assert set(listed) == {
        "id", "agentId", "status", "prompt", "model", "parentRunId", "metadata", "createdAt", "startedAt", "completedAt"
    }  # fmt: skip
    assert listed["prompt"] == prompt[:200]
    assert client.get(f"/agent/v1/run/{run['id']}").json()["prompt"] == prompt


def test_list_filters_by_agent_and_status(client: httpx.Client) -> None:
    first, second = make_agent(client)["id"], make_agent(client)["id"]
    runs_of_first = [make_run(client, first)["id"] for _ in range(3)]
    make_run(client, second)
    listed = client.get("/agent/v1/run", params={"agentId": first}).json()
    assert [run["id"] for run in listed["runs"]] == list(reversed(runs_of_first))
    assert len(client.get("/agent/v1/run", params={"status": "queued"}).json()["runs"]) == 4
    assert client.get("/agent/v1/run", params={"status": "completed"}).json()["runs"] == []
    assert client.get("/agent/v1/run", params={"agentId": "agent_none"}).json()["runs"] == []
    error_of(client.get("/agent/v1/run", params={"status": "done"}), 400, "INVALID_INPUT")


def _page_through(client: httpx.Client, limit: int, between_pages: Any = None) -> tuple[list[str], list[bool]]:
    ids: list[str] = []
    has_more: list[bool] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        response = client.get("/agent/v1/run", params=params)
        assert response.status_code == 200
        page = response.json()
        ids += [run["id"] for run in page["runs"]]
        has_more.append(page["hasMore"])
        if not page["hasMore"]:
            return ids, has_more
        cursor = page["nextCursor"]
        assert cursor == page["runs"][-1]["id"]
        if between_pages:
            between_pages()


def test_120_runs_in_pages_of_50(client: httpx.Client) -> None:
    agent = make_agent(client)["id"]
    created = [make_run(client, agent)["id"] for _ in range(120)]
    ids, has_more = _page_through(client, 50)
    assert has_more == [True, True, False]
    assert ids == list(reversed(created))
    assert len(client.get("/agent/v1/run").json()["runs"]) == 50  # the default limit


def test_paging_while_runs_are_created(client: httpx.Client) -> None:
    agent = make_agent(client)["id"]
    created = [make_run(client, agent)["id"] for _ in range(120)]
    stop = threading.Event()
    newer: list[str] = []

    def keep_creating() -> None:
        while not stop.is_set():
            newer.append(make_run(client, agent)["id"])

    creator = threading.Thread(target=keep_creating)
    creator.start()
    try:
        ids, has_more = _page_through(client, 50, between_pages=lambda: newer.append(make_run(client, agent)["id"]))
    finally:
        stop.set()
        creator.join()
    assert len(ids) == len(set(ids)), "a run was listed twice"
    older = [run_id for run_id in ids if run_id in set(created)]
    assert older == list(reversed(created)), "a run created before paging began was skipped"
    assert set(ids) - set(created) <= set(newer)
    assert has_more[-1] is False and len(newer) > 0


def test_unknown_run_is_404_on_every_route(client: httpx.Client) -> None:
    for method, path in [
        ("GET", "/agent/v1/run/run_nope"),
        ("GET", "/agent/v1/run/run_nope/details"),
        ("GET", "/agent/v1/run/run_nope/status"),
        ("POST", "/agent/v1/run/run_nope/exec"),
        ("POST", "/agent/v1/run/run_nope/cancel"),
        ("POST", "/agent/v1/run/run_nope/watch"),
        ("GET", "/agent/v1/run/run_nope/events"),
        ("GET", "/agent/v1/run/run_nope/webhooks"),
    ]:
        body = {"callbackUrl": "https://example.com/hook"} if path.endswith("/watch") else None
        error_of(client.request(method, path, json=body), 404, "RESOURCE_NOT_FOUND")
