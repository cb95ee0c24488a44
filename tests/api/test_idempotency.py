"""`Idempotency-Key` on `POST /agent/v1/run` and `/execute`: the same key and body give the same run."""

import concurrent.futures

import httpx
import pytest

from tests.conftest import new_key
from tests.support.factories import error_of, make_agent
from tests.support.portal import AsyncBridge


def _create(client: httpx.Client, body: dict, key: str | None) -> httpx.Response:
    headers = {} if key is None else {"Idempotency-Key": key}
    return client.post("/agent/v1/run", json=body, headers=headers)


def test_the_same_key_and_body_give_the_same_run(client: httpx.Client) -> None:
    body = {"agentId": make_agent(client)["id"], "prompt": "Do it.", "metadata": {"a": "b"}}
    first = _create(client, body, "key-1")
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    again = _create(client, dict(reversed(list(body.items()))), "key-1")  # the same body, keys in another order
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert _create(client, body, "key-2").json()["id"] != first.json()["id"]
    assert _create(client, body, None).json()["id"] != first.json()["id"]
    assert len(client.get("/agent/v1/run").json()["runs"]) == 3


def test_the_same_key_with_another_body_is_a_conflict(client: httpx.Client) -> None:
    agent = make_agent(client)["id"]
    first = _create(client, {"agentId": agent, "prompt": "Do it."}, "key").json()
    refused = _create(client, {"agentId": agent, "prompt": "Do something else."}, "key")
    assert first["id"] in error_of(refused, 409, "CONFLICT")
    assert refused.headers["x-should-retry"] == "false"
    executed = client.post("/agent/v1/execute", json={"prompt": "Do it."}, headers={"Idempotency-Key": "key"})
    error_of(executed, 409, "CONFLICT")  # one key, one request, whatever the endpoint
    assert len(client.get("/agent/v1/run").json()["runs"]) == 1


def test_a_key_belongs_to_one_organization(client: httpx.Client, base_url: str, bridge: AsyncBridge) -> None:
    headers = {"Authorization": f"Bearer {new_key(bridge)}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as other:
        theirs = _create(other, {"agentId": make_agent(other)["id"], "prompt": "x"}, "shared").json()["id"]
    mine = _create(client, {"agentId": make_agent(client)["id"], "prompt": "y"}, "shared")
    assert mine.status_code == 200 and mine.json()["id"] != theirs


def test_racing_creates_with_one_key_make_one_run(client: httpx.Client) -> None:
    body = {"agentId": make_agent(client)["id"], "prompt": "Do it once."}
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: _create(client, body, "racing"), range(20)))
    assert [response.status_code for response in responses] == [200] * 20, [r.text for r in responses]
    assert len({response.json()["id"] for response in responses}) == 1
    assert sum(response.headers.get("idempotent-replayed") == "true" for response in responses) == 19
    assert len(client.get("/agent/v1/run").json()["runs"]) == 1


def test_racing_creates_with_one_key_and_different_bodies_make_one_run(client: httpx.Client) -> None:
    agent = make_agent(client)["id"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        bodies = [{"agentId": agent, "prompt": f"body {number}"} for number in range(10)]
        responses = list(pool.map(lambda body: _create(client, body, "racing"), bodies))
    assert sorted(response.status_code for response in responses) == [200] + [409] * 9
    assert len(client.get("/agent/v1/run").json()["runs"]) == 1


def test_execute_is_idempotent_too(client: httpx.Client) -> None:
    body = {"prompt": "reply hi", "model": "offline/scripted"}
    first = client.post("/agent/v1/execute", json=body, headers={"Idempotency-Key": "exec-1"})
    again = client.post("/agent/v1/execute", json=body, headers={"Idempotency-Key": "exec-1"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert len(client.get("/agent/v1/run").json()["runs"]) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "ünïcode"])
def test_a_malformed_key_is_refused(client: httpx.Client, key: str) -> None:
    body = {"agentId": make_agent(client)["id"], "prompt": "Do it."}
    headers = [(b"Idempotency-Key", key.encode())]
    response = client.post("/agent/v1/run", json=body, headers=headers)
    error_of(response, 400, "INVALID_INPUT")
