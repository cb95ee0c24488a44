"""Webhook signing secrets at rest: absent from a copy of the database, yet they sign; another key is refused
clearly."""

import httpx
from pydantic import SecretStr
from standardwebhooks import Webhook

from agentruns.settings import Settings
from agentruns.storage.secret_box import new_key
from tests.engine.conftest import wait_for_status, wait_until
from tests.events.conftest import Hooks
from tests.support.factories import make_agent, make_run
from tests.support.raw_database import forms_of, raw_database
from tests.support.servers import running_server


def test_a_copy_of_the_database_holds_no_signing_secret_yet_webhooks_are_signed_with_it(hooks: Hooks) -> None:
    path = hooks.receiver.on("/sealed")
    run = make_run(hooks.client, make_agent(hooks.client)["id"], callbackUrl=hooks.base + path)
    assert hooks.client.post(f"/agent/v1/run/{run['id']}/exec").status_code == 200
    wait_for_status(hooks.client, run["id"])
    wait_until(lambda: len(hooks.receiver.requests_to(path)) == 1)
    secret = hooks.client.get("/agent/v1/webhooks/secret").json()["secret"]
    [request] = hooks.receiver.requests_to(path)
    assert Webhook(secret).verify(request.body, request.headers)["data"]["id"] == run["id"]
    rotated = hooks.client.post("/agent/v1/webhooks/secret").json()["secret"]
    copy = raw_database(hooks.url)
    assert run["id"].encode() in copy  # the copy is a real one
    for form in forms_of(secret) + forms_of(rotated):
        assert form not in copy


def test_a_server_with_another_key_says_so_without_a_traceback(hooks: Hooks) -> None:
    hooks.client.get("/agent/v1/webhooks/secret")  # one is stored
    with running_server(Settings(database_url=hooks.url, secrets_key=SecretStr(new_key()))) as other:
        answer = httpx.get(f"{other}/agent/v1/webhooks/secret", headers=hooks.client.headers, timeout=30)
    assert answer.status_code == 503, answer.text
    assert answer.headers["x-should-retry"] == "false"
    error = answer.json()["error"]
    assert error["code"] == "INTERNAL_ERROR"
    assert "cannot be decrypted with the configured secrets key" in error["message"]
    assert "AGENTRUNS_SECRETS_KEY" in error["message"]
    assert "Traceback" not in answer.text


def test_a_rotation_asked_of_a_server_with_another_key_changes_nothing(hooks: Hooks) -> None:
    before = hooks.client.get("/agent/v1/webhooks/secret").json()
    with running_server(Settings(database_url=hooks.url, secrets_key=SecretStr(new_key()))) as other:
        answer = httpx.post(f"{other}/agent/v1/webhooks/secret", headers=hooks.client.headers, timeout=30)
    assert answer.status_code == 503, answer.text
    assert hooks.client.get("/agent/v1/webhooks/secret").json() == before
