"""Webhook signing secrets at rest: absent from a copy of the database, yet they sign; another key is refused
clearly."""

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import trustme
from pydantic import SecretStr
from standardwebhooks import Webhook

from agentruns.services.auth import issue_key
from agentruns.settings import Settings
from agentruns.storage import migrate
from agentruns.storage.secret_box import new_key
from tests.engine.conftest import wait_for_status, wait_until
from tests.support.databases import database_url_for
from tests.support.factories import make_agent, make_run
from tests.support.portal import async_bridge
from tests.support.raw_database import forms_of, raw_database
from tests.support.receiver import Receiver, https_receiver
from tests.support.servers import running_server
from tests.support.workers import WorkerProcess
from tests.support.workspaces import reachable_directory


@dataclass
class Sealed:
    """A database of its own with an API server, a worker and a receiver, all allowed to use loopback."""

    url: str
    client: httpx.Client
    receiver: Receiver
    base: str


@pytest.fixture(scope="module")
def sealed(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sealed]:
    directory = tmp_path_factory.mktemp(f"sealed-{backend}")
    ca = trustme.CA()
    bundle = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with database_url_for(backend, directory) as url, reachable_directory() as base_directory:
        migrate.upgrade(url)
        with async_bridge(url) as bridge:
            key = bridge.call(issue_key, bridge.db, "sealed").key
        workspaces = base_directory / "workspaces"
        settings = Settings(database_url=url, webhook_allow_private_targets=True, workspace_root=str(workspaces))
        worker = WorkerProcess(
            url, workspaces, webhook_allow_private_targets="true", webhook_ca_bundle=str(bundle),
        )  # fmt: skip
        try:
            with (
                https_receiver(ca, directory) as (receiver, port),
                running_server(settings) as api,
                httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client,
            ):
                yield Sealed(url, client, receiver, f"https://127.0.0.1:{port}")
        finally:
            worker.stop()


def test_a_copy_of_the_database_holds_no_signing_secret_yet_webhooks_are_signed_with_it(sealed: Sealed) -> None:
    path = sealed.receiver.on("/sealed")
    run = make_run(sealed.client, make_agent(sealed.client)["id"], callbackUrl=sealed.base + path)
    assert sealed.client.post(f"/agent/v1/run/{run['id']}/exec").status_code == 200
    wait_for_status(sealed.client, run["id"])
    wait_until(lambda: len(sealed.receiver.requests_to(path)) == 1)
    secret = sealed.client.get("/agent/v1/webhooks/secret").json()["secret"]
    [request] = sealed.receiver.requests_to(path)
    assert Webhook(secret).verify(request.body, request.headers)["data"]["id"] == run["id"]
    rotated = sealed.client.post("/agent/v1/webhooks/secret").json()["secret"]
    copy = raw_database(sealed.url)
    assert run["id"].encode() in copy  # the copy is a real one
    for form in forms_of(secret) + forms_of(rotated):
        assert form not in copy


def test_a_server_with_another_key_says_so_without_a_traceback(sealed: Sealed) -> None:
    sealed.client.get("/agent/v1/webhooks/secret")  # one is stored
    with running_server(Settings(database_url=sealed.url, secrets_key=SecretStr(new_key()))) as other:
        answer = httpx.get(f"{other}/agent/v1/webhooks/secret", headers=sealed.client.headers, timeout=30)
    assert answer.status_code == 503, answer.text
    assert answer.headers["x-should-retry"] == "false"
    error = answer.json()["error"]
    assert error["code"] == "INTERNAL_ERROR"
    assert "cannot be decrypted with the configured secrets key" in error["message"]
    assert "AGENTRUNS_SECRETS_KEY" in error["message"]
    assert "Traceback" not in answer.text


def test_a_rotation_asked_of_a_server_with_another_key_changes_nothing(sealed: Sealed) -> None:
    before = sealed.client.get("/agent/v1/webhooks/secret").json()
    with running_server(Settings(database_url=sealed.url, secrets_key=SecretStr(new_key()))) as other:
        answer = httpx.post(f"{other}/agent/v1/webhooks/secret", headers=sealed.client.headers, timeout=30)
    assert answer.status_code == 503, answer.text
    assert sealed.client.get("/agent/v1/webhooks/secret").json() == before
