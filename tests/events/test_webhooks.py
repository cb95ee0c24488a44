"""Webhooks delivered by a real worker to a real HTTPS receiver on loopback (the development setting on, the
receiver's certificate from a test CA): signed, retried, resumed after a restart, listed."""

import json
from typing import Any

import pytest
from casedev import Casedev
from standardwebhooks import Webhook, WebhookVerificationError

from agentruns.events.signing import new_secret
from tests.engine.conftest import wait_for_status, wait_until
from tests.events.conftest import Hooks
from tests.support.factories import make_agent, make_run
from tests.support.receiver import Received


def _run(hooks: Hooks, *paths: str, prompt: str = "reply done") -> str:
    """A run watched at the receiver's paths (the first given at create), executed to its end."""
    agent = make_agent(hooks.client)
    run = make_run(hooks.client, agent["id"], prompt=prompt, callbackUrl=hooks.base + paths[0])
    for path in paths[1:]:
        answer = hooks.client.post(f"/agent/v1/run/{run['id']}/watch", json={"callbackUrl": hooks.base + path})
        assert answer.json() == {"ok": True, "callbackUrl": hooks.base + path}
    assert hooks.client.post(f"/agent/v1/run/{run['id']}/exec").status_code == 200
    wait_for_status(hooks.client, run["id"])
    return run["id"]


def _verified(request: Received, secret: str) -> dict[str, Any]:
    return Webhook(secret).verify(request.body, request.headers)


def _webhooks(hooks: Hooks, run_id: str) -> list[dict[str, Any]]:
    response = hooks.client.get(f"/agent/v1/run/{run_id}/webhooks")
    assert response.status_code == 200, response.text
    return response.json()["webhooks"]


def _settled(hooks: Hooks, run_id: str) -> list[dict[str, Any]]:
    wait_until(lambda: all(item["status"] in ("delivered", "failed") for item in _webhooks(hooks, run_id)))
    return _webhooks(hooks, run_id)


def test_each_watcher_gets_one_signed_webhook_with_the_runs_outcome(hooks: Hooks) -> None:
    first, second = hooks.receiver.on("/one"), hooks.receiver.on("/two")
    run_id = _run(hooks, first, second, prompt="reply all done")
    listed = _settled(hooks, run_id)
    assert [(item["callbackUrl"], item["status"]) for item in listed] == [
        (hooks.base + first, "delivered"), (hooks.base + second, "delivered"),
    ]  # fmt: skip
    secret = hooks.secret()
    assert secret.startswith("whsec_")
    for path, item in zip((first, second), listed, strict=True):
        [request] = hooks.receiver.requests_to(path)
        envelope = _verified(request, secret)
        assert envelope["id"] == request.headers["webhook-id"] == item["webhookId"]
        assert envelope["type"] == item["type"] == "agent.run.completed"
        status = hooks.client.get(f"/agent/v1/run/{run_id}/status").json()
        assert envelope["data"] == status | {"output": "all done"}
        assert envelope["timestamp"] == status["completedAt"]
        assert request.headers["content-type"] == "application/json"
        assert [(a["number"], a["statusCode"], a["error"]) for a in item["attempts"]] == [(1, 200, None)]
    assert listed[0]["webhookId"] != listed[1]["webhookId"]


def test_a_failing_target_is_retried_with_the_same_webhook_id_until_it_accepts(hooks: Hooks) -> None:
    path = hooks.receiver.on("/flaky", 500, 503)
    run_id = _run(hooks, path)
    [item] = _settled(hooks, run_id)
    assert item["status"] == "delivered"
    assert [(a["number"], a["statusCode"]) for a in item["attempts"]] == [(1, 500), (2, 503), (3, 200)]
    assert "500" in item["attempts"][0]["error"]
    requests = hooks.receiver.requests_to(path)
    assert len(requests) == 3
    assert {request.headers["webhook-id"] for request in requests} == {item["webhookId"]}
    assert len({request.body for request in requests}) == 1
    secret = hooks.secret()
    assert all(_verified(request, secret)["id"] == item["webhookId"] for request in requests)


def test_a_target_that_keeps_failing_gets_three_retries_then_the_delivery_fails(hooks: Hooks) -> None:
    path = hooks.receiver.on("/down", 500, 500, 500, 500, 500)
    run_id = _run(hooks, path)
    [item] = _settled(hooks, run_id)
    assert item["status"] == "failed"
    assert [a["statusCode"] for a in item["attempts"]] == [500, 500, 500, 500]
    assert len(hooks.receiver.requests_to(path)) == 4


def test_redirects_are_not_followed(hooks: Hooks) -> None:
    private = hooks.receiver.on("/private")
    path = hooks.receiver.on("/moved", ("redirect", hooks.base + private), 200)
    run_id = _run(hooks, path)
    [item] = _settled(hooks, run_id)
    assert item["attempts"][0]["statusCode"] == 302
    assert "redirects are not followed" in item["attempts"][0]["error"]
    assert hooks.receiver.requests_to(private) == []


def test_a_delivery_cut_short_by_a_worker_restart_is_completed_after_it(hooks: Hooks) -> None:
    path = hooks.receiver.on("/slow", ("hold", 30.0), 200)
    run_id = _run(hooks, path)
    wait_until(lambda: len(hooks.receiver.requests_to(path)) == 1)  # the first attempt is in flight
    hooks.restart_worker(kill=True)
    [item] = _settled(hooks, run_id)
    assert item["status"] == "delivered"
    first, second = item["attempts"]
    assert (first["statusCode"], second["statusCode"]) == (None, 200)
    assert "interrupted" in first["error"]
    requests = hooks.receiver.requests_to(path)
    assert [request.headers["webhook-id"] for request in requests] == [item["webhookId"]] * 2


def test_watching_a_finished_run_sends_its_webhook_at_once(hooks: Hooks) -> None:
    run_id = _run(hooks, hooks.receiver.on("/early"))
    late = hooks.receiver.on("/late")
    key = hooks.client.headers["Authorization"].removeprefix("Bearer ")
    with Casedev(api_key=key, base_url=str(hooks.client.base_url), max_retries=0) as sdk:  # the official SDK
        answer = sdk.agent.v1.run.watch(run_id, callback_url=hooks.base + late)
    assert (answer.ok, answer.callback_url) == (True, hooks.base + late)
    again = hooks.client.post(f"/agent/v1/run/{run_id}/watch", json={"callbackUrl": hooks.base + late})
    assert again.status_code == 200  # the same URL twice is one watcher
    listed = _settled(hooks, run_id)
    assert [item["status"] for item in listed] == ["delivered", "delivered"]
    assert len(hooks.receiver.requests_to(late)) == 1


def test_a_rotated_secret_signs_beside_the_new_one_for_a_while(hooks: Hooks) -> None:
    old = hooks.secret()
    rotated = hooks.client.post("/agent/v1/webhooks/secret").json()
    assert rotated["secret"] != old and rotated["secret"].startswith("whsec_")
    assert rotated["previousExpiresAt"] > rotated["createdAt"]
    assert hooks.secret() == rotated["secret"]
    path = hooks.receiver.on("/rotated")
    run_id = _run(hooks, path)
    _settled(hooks, run_id)
    [request] = hooks.receiver.requests_to(path)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert _verified(request, old) == _verified(request, rotated["secret"]) == json.loads(request.body)
    with pytest.raises(WebhookVerificationError):
        _verified(request, new_secret())  # any other secret fails


def test_the_watchers_of_a_run_cancelled_before_it_started_hear_of_it(hooks: Hooks) -> None:
    path = hooks.receiver.on("/cancelled")
    agent = make_agent(hooks.client)
    run = make_run(hooks.client, agent["id"], callbackUrl=hooks.base + path)
    assert hooks.client.post(f"/agent/v1/run/{run['id']}/cancel").json()["status"] == "cancelled"
    [item] = _settled(hooks, run["id"])
    [request] = hooks.receiver.requests_to(path)
    envelope = _verified(request, hooks.secret())
    assert (envelope["type"], envelope["data"]["status"], item["type"]) == (
        "agent.run.cancelled", "cancelled", "agent.run.cancelled",
    )  # fmt: skip
