"""`/agent/v1/agents`: create, get, list, update, delete, and their validation."""

from typing import Any

import httpx
import pytest

from tests.support.factories import error_of, make_agent, make_run

AGENT_FIELDS = {
    "id", "name", "description", "instructions", "model", "vaultIds", "vaultGroups", "enabledTools",
    "disabledTools", "sandbox", "maxDurationMs", "maxModelRequests", "maxCostMicros", "isActive", "createdAt",
    "updatedAt",
}  # fmt: skip


def test_create_returns_every_field_with_defaults(client: httpx.Client) -> None:
    response = client.post("/agent/v1/agents", json={"name": "Researcher", "instructions": "Research."})
    assert response.status_code == 200
    agent = response.json()
    assert set(agent) == AGENT_FIELDS
    assert agent["id"].startswith("agent_")
    assert agent["model"] == "anthropic/claude-sonnet-4.6"
    assert agent["sandbox"] == {"cpu": 2, "memoryMiB": 2048}
    assert agent["enabledTools"] is None and agent["disabledTools"] is None
    assert agent["vaultIds"] == [] and agent["description"] is None and agent["isActive"] is True
    assert agent["createdAt"].endswith("Z") and agent["createdAt"] == agent["updatedAt"]


def test_create_stores_every_field(client: httpx.Client) -> None:
    body = {
        "name": "Janitor",
        "instructions": "Tidy up.",
        "description": "keeps things tidy",
        "model": "openai-compatible/qwen2.5:7b",
        "vaultIds": ["vault_1"],
        "vaultGroups": ["group_1"],
        "disabledTools": ["webfetch"],
        "sandbox": {"cpu": 4, "memoryMiB": 4096},
        "maxDurationMs": 60_000,
    }
    created = make_agent(client, **body)
    fetched = client.get(f"/agent/v1/agents/{created['id']}").json()
    assert fetched == created
    for field, value in body.items():
        assert fetched[field] == value


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"instructions": "x"}, "body.name"),
        ({"name": "x"}, "body.instructions"),
        ({"name": "", "instructions": "x"}, "body.name"),
        ({"name": 5, "instructions": "x"}, "body.name"),
        ({"name": "x", "instructions": "x", "enabledTools": ["bash"], "disabledTools": ["read"]}, "body"),
        ({"name": "x", "instructions": "x", "enabledTools": ["rm-rf"]}, "body.enabledTools.0"),
        ({"name": "x", "instructions": "x", "sandbox": {"cpu": 0}}, "body.sandbox.cpu"),
        ({"name": "x", "instructions": "x", "sandbox": {"cpu": 9}}, "body.sandbox.cpu"),
        ({"name": "x", "instructions": "x", "sandbox": {"memoryMiB": 255}}, "body.sandbox.memoryMiB"),
        ({"name": "x", "instructions": "x", "sandbox": {"memoryMiB": 16385}}, "body.sandbox.memoryMiB"),
        ({"name": "x", "instructions": "x", "model": "gpt-4o"}, "body.model"),
        ({"name": "x", "instructions": "x", "model": "acme/model"}, "body.model"),
        ({"name": "x", "instructions": "x", "nmae": "typo"}, "body.nmae"),
    ],
)
def test_create_refuses_invalid_bodies(client: httpx.Client, body: dict[str, Any], field: str) -> None:
    response = client.post("/agent/v1/agents", json=body)
    error_of(response, 400, "INVALID_INPUT")
    assert field in [detail["field"] for detail in response.json()["error"]["details"]]


def test_both_tool_lists_is_named_in_the_message(client: httpx.Client) -> None:
    body = {"name": "x", "instructions": "x", "enabledTools": ["bash"], "disabledTools": ["read"]}
    message = error_of(client.post("/agent/v1/agents", json=body), 400, "INVALID_INPUT")
    assert "enabledTools or disabledTools" in message


def test_sandbox_bounds_are_inclusive(client: httpx.Client) -> None:
    assert make_agent(client, sandbox={"cpu": 1, "memoryMiB": 256})["sandbox"] == {"cpu": 1, "memoryMiB": 256}
    assert make_agent(client, sandbox={"cpu": 8, "memoryMiB": 16384})["sandbox"] == {"cpu": 8, "memoryMiB": 16384}


def test_patch_changes_only_the_fields_sent(client: httpx.Client) -> None:
    agent = make_agent(client, description="old", vaultIds=["v1"], enabledTools=["bash"])
    response = client.patch(f"/agent/v1/agents/{agent['id']}", json={"name": "renamed"})
    assert response.status_code == 200
    updated = response.json()
    assert updated["name"] == "renamed"
    unchanged = {k: v for k, v in agent.items() if k not in ("name", "updatedAt")}
    assert {k: updated[k] for k in unchanged} == unchanged
    assert updated["updatedAt"] >= agent["updatedAt"]
    assert client.get(f"/agent/v1/agents/{agent['id']}").json() == updated


def test_patch_null_clears_clearable_fields(client: httpx.Client) -> None:
    agent = make_agent(
        client, description="d", vaultIds=["v"], vaultGroups=["g"], enabledTools=["bash"], sandbox={"cpu": 4}
    )
    body = {"description": None, "vaultIds": None, "vaultGroups": None, "enabledTools": None, "sandbox": None}
    updated = client.patch(f"/agent/v1/agents/{agent['id']}", json=body).json()
    assert updated["description"] is None
    assert updated["vaultIds"] == [] and updated["vaultGroups"] == []
    assert updated["enabledTools"] is None
    assert updated["sandbox"] == {"cpu": 2, "memoryMiB": 2048}


@pytest.mark.parametrize("field", ["name", "instructions", "model"])
def test_patch_null_is_refused_for_required_fields(client: httpx.Client, field: str) -> None:
    agent = make_agent(client)
    error_of(client.patch(f"/agent/v1/agents/{agent['id']}", json={field: None}), 400, "INVALID_INPUT")
    assert client.get(f"/agent/v1/agents/{agent['id']}").json()[field] == agent[field]


def test_patch_setting_one_tool_list_clears_the_other(client: httpx.Client) -> None:
    agent = make_agent(client, enabledTools=["bash"])
    path = f"/agent/v1/agents/{agent['id']}"
    switched = client.patch(path, json={"disabledTools": ["read"]})
    assert switched.status_code == 200
    assert switched.json()["enabledTools"] is None and switched.json()["disabledTools"] == ["read"]
    back = client.patch(path, json={"enabledTools": ["grep"]}).json()
    assert back["enabledTools"] == ["grep"] and back["disabledTools"] is None
    both = {"enabledTools": ["bash"], "disabledTools": ["read"]}
    error_of(client.patch(path, json=both), 400, "INVALID_INPUT")
    assert client.get(path).json() == back


def test_patch_validates_like_create(client: httpx.Client) -> None:
    agent = make_agent(client)
    path = f"/agent/v1/agents/{agent['id']}"
    error_of(client.patch(path, json={"sandbox": {"cpu": 100}}), 400, "INVALID_INPUT")
    error_of(client.patch(path, json={"model": "nope"}), 400, "INVALID_INPUT")
    error_of(client.patch(path, json={"tools": []}), 400, "INVALID_INPUT")


def test_delete_is_soft(client: httpx.Client) -> None:
    agent = make_agent(client)
    run = make_run(client, agent["id"])
    response = client.delete(f"/agent/v1/agents/{agent['id']}")
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert client.get("/agent/v1/agents").json()["agents"] == []
    fetched = client.get(f"/agent/v1/agents/{agent['id']}").json()
    assert fetched["isActive"] is False
    assert client.get(f"/agent/v1/run/{run['id']}/details").json()["agentId"] == agent["id"]
    message = error_of(client.post("/agent/v1/run", json={"agentId": agent["id"], "prompt": "x"}), 404,
                       "RESOURCE_NOT_FOUND")  # fmt: skip
    assert agent["id"] in message
    error_of(client.patch(f"/agent/v1/agents/{agent['id']}", json={"name": "x"}), 404, "RESOURCE_NOT_FOUND")
    error_of(client.delete(f"/agent/v1/agents/{agent['id']}"), 404, "RESOURCE_NOT_FOUND")


def test_unknown_agent_is_404(client: httpx.Client) -> None:
    error_of(client.get("/agent/v1/agents/agent_nope"), 404, "RESOURCE_NOT_FOUND")
    error_of(client.patch("/agent/v1/agents/agent_nope", json={"name": "x"}), 404, "RESOURCE_NOT_FOUND")
    error_of(client.delete("/agent/v1/agents/agent_nope"), 404, "RESOURCE_NOT_FOUND")


def test_list_pages_newest_first(client: httpx.Client) -> None:
    ids = [make_agent(client, name=f"a{i}")["id"] for i in range(7)]
    seen: list[str] = []
    cursor = None
    pages = []
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get("/agent/v1/agents", params=params).json()
        pages.append(page["hasMore"])
        seen += [agent["id"] for agent in page["agents"]]
        assert set(page["agents"][0]) == {"id", "name", "description", "model", "vaultIds", "isActive",
                                          "createdAt", "updatedAt"}  # fmt: skip
        cursor = page["nextCursor"]
        if not page["hasMore"]:
            assert cursor is None
            break
    assert seen == list(reversed(ids))
    assert pages == [True, True, False]


@pytest.mark.parametrize("limit", ["0", "251", "-1", "ten"])
def test_list_limit_out_of_range_is_invalid(client: httpx.Client, limit: str) -> None:
    error_of(client.get("/agent/v1/agents", params={"limit": limit}), 400, "INVALID_INPUT")


def test_list_unknown_cursor_is_not_found(client: httpx.Client) -> None:
    error_of(client.get("/agent/v1/agents", params={"cursor": "agent_nope"}), 404, "RESOURCE_NOT_FOUND")


def test_list_empty_cursor_is_the_first_page(client: httpx.Client) -> None:
    agent = make_agent(client)
    assert client.get("/agent/v1/agents", params={"cursor": ""}).json()["agents"][0]["id"] == agent["id"]


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("*", "may only begin"),
        ("*.com", "top-level domain"),
        ("https://pypi.org/simple", "not a URL"),
        ("pypi.org:0", "1 to 65535"),
        ("exa mple.com", "not a host name"),
        ("fd00::1", "in brackets"),
    ],
)
def test_a_bad_network_allowlist_entry_is_refused_with_its_reason(
    client: httpx.Client, entry: str, reason: str
) -> None:
    body = {"name": "x", "instructions": "x", "sandbox": {"network": {"allow": ["pypi.org", entry]}}}
    response = client.post("/agent/v1/agents", json=body)
    message = error_of(response, 400, "INVALID_INPUT")
    assert reason in message
    assert "body.sandbox.network.allow.1" in [detail["field"] for detail in response.json()["error"]["details"]]


def test_a_network_allowlist_is_stored_shown_and_cleared(client: httpx.Client) -> None:
    allow = ["PyPI.org", "*.githubusercontent.com", "example.com:8443", "[FD00::1]"]
    agent = make_agent(client, sandbox={"cpu": 1, "memoryMiB": 512, "network": {"allow": allow}})
    shown = ["pypi.org", "*.githubusercontent.com", "example.com:8443", "[fd00::1]"]
    assert agent["sandbox"] == {"cpu": 1, "memoryMiB": 512, "network": {"allow": shown}}
    assert client.get(f"/agent/v1/agents/{agent['id']}").json()["sandbox"]["network"] == {"allow": shown}
    cleared = client.patch(f"/agent/v1/agents/{agent['id']}", json={"sandbox": {"cpu": 1}}).json()
    assert cleared["sandbox"] == {"cpu": 1, "memoryMiB": 2048}  # the deployment's default allowlist again
    empty = client.patch(f"/agent/v1/agents/{agent['id']}", json={"sandbox": {"network": {"allow": []}}}).json()
    assert empty["sandbox"]["network"] == {"allow": []}  # nothing reachable, whatever the default
