"""What a run carries besides its prompt: metadata (returned everywhere, filtered in the list) and limits."""

import httpx
import pytest

from tests.support.factories import error_of, make_agent, make_run


def test_metadata_is_returned_everywhere_and_filters_the_list(client: httpx.Client) -> None:
    agent = make_agent(client)["id"]
    labels = {"team": "legal", "case": "c-17", "client/name": "Ünïcode ✓"}
    created = make_run(client, agent, metadata=labels)
    assert created["metadata"] == labels
    other = make_run(client, agent, metadata={"team": "legal", "case": "c-18"})
    plain = make_run(client, agent)
    assert plain["metadata"] == {}
    assert client.get(f"/agent/v1/run/{created['id']}").json()["metadata"] == labels
    listed = {run["id"]: run["metadata"] for run in client.get("/agent/v1/run").json()["runs"]}
    assert listed == {created["id"]: labels, other["id"]: {"team": "legal", "case": "c-18"}, plain["id"]: {}}

    def ids(**query: str) -> list[str]:
        response = client.get("/agent/v1/run", params=query)
        assert response.status_code == 200, response.text
        return [run["id"] for run in response.json()["runs"]]

    assert ids(**{"metadata[team]": "legal"}) == [other["id"], created["id"]]
    assert ids(**{"metadata[team]": "legal", "metadata[case]": "c-17"}) == [created["id"]]
    assert ids(**{"metadata[client/name]": "Ünïcode ✓"}) == [created["id"]]
    assert ids(**{"metadata[team]": "Legal"}) == []
    assert ids(**{"metadata[nobody]": ""}) == []
    assert ids(**{"metadata[team]": "legal", "agentId": agent, "status": "queued"}) == [other["id"], created["id"]]


@pytest.mark.parametrize(
    "metadata",
    [
        {f"k{number}": "v" for number in range(51)},
        {"": "empty key"},
        {"a" * 41: "long key"},
        {"with space": "v"},
        {"k": "v" * 501},
        {"k": 1},
        {"k": None},
        ["not", "an", "object"],
    ],
)
def test_metadata_out_of_bounds_is_refused(client: httpx.Client, metadata: object) -> None:
    body = {"agentId": make_agent(client)["id"], "prompt": "x", "metadata": metadata}
    error_of(client.post("/agent/v1/run", json=body), 400, "INVALID_INPUT")


@pytest.mark.parametrize("query", ["metadata=x", "metadata[]=x", "metadata[a b]=x", "metadata[k]=1&metadata[k]=2"])
def test_a_malformed_metadata_filter_is_refused(client: httpx.Client, query: str) -> None:
    message = error_of(client.get(f"/agent/v1/run?{query}"), 400, "INVALID_INPUT")
    assert message.startswith("query.metadata")


def test_limits_out_of_bounds_are_refused(client: httpx.Client) -> None:
    agent = make_agent(client)["id"]
    for field, value in [("maxCostMicros", 0), ("maxModelRequests", 0), ("maxModelRequests", 10_001),
                         ("maxDurationMs", 999), ("maxCostMicros", "a lot")]:  # fmt: skip
        run = {"agentId": agent, "prompt": "x", field: value}
        error_of(client.post("/agent/v1/run", json=run), 400, "INVALID_INPUT")
        body = {"name": "a", "instructions": "b", field: value}
        error_of(client.post("/agent/v1/agents", json=body), 400, "INVALID_INPUT")
    updated = client.patch(f"/agent/v1/agents/{agent}", json={"maxModelRequests": 5, "maxCostMicros": 7}).json()
    assert (updated["maxModelRequests"], updated["maxCostMicros"]) == (5, 7)
    cleared = client.patch(f"/agent/v1/agents/{agent}", json={"maxModelRequests": None}).json()
    assert (cleared["maxModelRequests"], cleared["maxCostMicros"]) == (None, 7)
