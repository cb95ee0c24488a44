"""The events tests' shared set-up: a database of their own with an API server, a worker and an HTTPS receiver."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
import trustme

from agentruns.services.auth import issue_key
from agentruns.settings import Settings
from agentruns.storage import migrate
from tests.support.databases import database_url_for
from tests.support.portal import async_bridge
from tests.support.receiver import Receiver, https_receiver
from tests.support.servers import running_server
from tests.support.workers import WorkerProcess
from tests.support.workspaces import reachable_directory

WORKER = "hooks-worker"


@dataclass
class Hooks:
    """A database of its own with an API server, a worker and a receiver, all allowed to use loopback."""

    url: str
    """The database's URL."""
    client: httpx.Client
    receiver: Receiver
    base: str
    start_worker: Callable[[], WorkerProcess]
    worker: WorkerProcess

    def restart_worker(self, *, kill: bool) -> None:
        """Stop the worker (SIGKILL or SIGTERM) and start it again under the same name."""
        if kill:
            self.worker.kill()
        else:
            self.worker.stop()
        self.worker = self.start_worker()

    def secret(self) -> str:
        return self.client.get("/agent/v1/webhooks/secret").json()["secret"]


@pytest.fixture(scope="module")
def hooks(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hooks]:
    directory = tmp_path_factory.mktemp(f"hooks-{backend}")
    ca = trustme.CA()
    bundle = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with database_url_for(backend, directory) as url, reachable_directory() as base_directory:
        migrate.upgrade(url)
        with async_bridge(url) as bridge:
            key = bridge.call(issue_key, bridge.db, "hooks").key
        workspaces = base_directory / "workspaces"
        settings = Settings(database_url=url, webhook_allow_private_targets=True, workspace_root=str(workspaces))

        def start_worker() -> WorkerProcess:
            return WorkerProcess(
                url, workspaces, executor_id=WORKER, webhook_allow_private_targets="true",
                webhook_ca_bundle=str(bundle), webhook_retry_seconds="0.2",
            )  # fmt: skip

        with (
            https_receiver(ca, directory) as (receiver, port),
            running_server(settings) as api,
            httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client,
        ):
            hooks = Hooks(url, client, receiver, f"https://127.0.0.1:{port}", start_worker, start_worker())
            try:
                yield hooks
            finally:
                hooks.worker.stop()
