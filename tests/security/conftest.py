"""The hostile tenant's target: a real `agentruns serve` as root, with its embedded worker and real jails, on each
database, and a host directory of secrets that no run may ever read."""

import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentruns.storage import migrate
from tests.support.databases import database_url_for
from tests.support.factories import make_agent, make_run
from tests.support.secrets_key import TEST_SECRETS_KEY
from tests.support.servers import ServeProcess, agentruns_serve
from tests.support.workers import TEST_POOL_SIZE
from tests.support.workspaces import reachable_directory

KEY = "hostile-tenant-key"
HOST_SECRET = "HOST-SECRET-6c1f0e"
"""What the host's secret files hold: seen in any answer, it leaked."""
WORKSPACE_MIB = 64
TERMINAL = {"completed", "failed", "cancelled", "timeout"}


@dataclass
class Target:
    """The service under attack, its client, and where the host keeps what no tenant may see."""

    serve: ServeProcess
    client: httpx.Client
    workspace_root: Path
    host_secrets: Path
    """A host directory with a root-only file (`root-only.txt`) and a world-readable one (`readable.txt`)."""
    database_file: Path | None
    """The service's SQLite database (None on PostgreSQL)."""
    database_url: str


@pytest.fixture(scope="session")
def target(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """`agentruns serve` as root over a database of its own; its runs' workspaces may take `WORKSPACE_MIB`,
    which it measures (the workspace root is on this machine's own file system)."""
    with reachable_directory("agentruns-security-") as base:
        yield from serving(backend, tmp_path_factory, base / "workspaces")


def serving(
    backend: str, tmp_path_factory: pytest.TempPathFactory, workspaces: Path, settings: Mapping[str, str] | None = None
) -> Iterator[Target]:
    """Serve as `target` does, with these `AGENTRUNS_*` settings besides (a test module's own service)."""
    if os.geteuid() != 0:
        pytest.skip("the hostile-tenant suite runs the service as root, as most containers do")
    with (
        reachable_directory("agentruns-security-") as base,
        database_url_for(backend, tmp_path_factory.mktemp(f"security-{backend}")) as url,
    ):
        migrate.upgrade(url)
        secrets = base / "host-secrets"
        secrets.mkdir(mode=0o755)
        (secrets / "root-only.txt").write_text(HOST_SECRET)
        (secrets / "root-only.txt").chmod(0o600)
        (secrets / "readable.txt").write_text(HOST_SECRET)
        (secrets / "readable.txt").chmod(0o644)
        environment = {key: value for key, value in os.environ.items() if not key.startswith("AGENTRUNS_")}
        environment |= {
            "AGENTRUNS_DATABASE_URL": url,
            "AGENTRUNS_API_KEY": KEY,
            "AGENTRUNS_SECRETS_KEY": TEST_SECRETS_KEY,
            "AGENTRUNS_WORKSPACE_ROOT": str(workspaces),
            "AGENTRUNS_QUEUE_POLL_SECONDS": "0.05",
            "AGENTRUNS_LOG_LEVEL": "warning",
            "AGENTRUNS_DATABASE_POOL_SIZE": TEST_POOL_SIZE,
            "AGENTRUNS_ENGINE_POOL_SIZE": TEST_POOL_SIZE,
            "AGENTRUNS_SANDBOX_MAX_WORKSPACE_MIB": str(WORKSPACE_MIB),
            "AGENTRUNS_RATE_LIMIT": "off",
        } | dict(settings or {})
        database_file = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite") else None
        with (
            agentruns_serve(environment) as serve,
            httpx.Client(base_url=serve.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as client,
        ):
            yield Target(serve, client, workspaces, secrets, database_file, url)


def start_run(target: Target, *lines: str, **agent: Any) -> str:
    """Create and execute a run of a new offline agent whose prompt is these directive lines; its id."""
    client = target.client
    run = make_run(client, make_agent(client, **agent)["id"], prompt="\n".join(lines))
    response = client.post(f"/agent/v1/run/{run['id']}/exec")
    assert response.status_code == 200, response.text
    return run["id"]


def bash(command: str, timeout_seconds: float | None = None) -> str:
    """The offline model's directive to call `bash` with this command."""
    arguments: dict[str, Any] = {"command": command}
    if timeout_seconds is not None:
        arguments["timeout_seconds"] = timeout_seconds
    return f"call bash {json.dumps(arguments)}"


def call(tool: str, **arguments: Any) -> str:
    """The offline model's directive to call a tool."""
    return f"call {tool} {json.dumps(arguments)}"


def wait_for_end(target: Target, run_id: str, timeout: float = 120) -> dict[str, Any]:
    """The run's details once it has ended."""
    deadline = time.monotonic() + timeout
    while True:
        status = target.client.get(f"/agent/v1/run/{run_id}/status").json()
        if status["status"] in TERMINAL:
            return target.client.get(f"/agent/v1/run/{run_id}/details").json()
        assert time.monotonic() < deadline, f"run {run_id} still {status['status']} after {timeout} s"
        time.sleep(0.05)


def wait_for_file(target: Target, run_id: str, path: str, timeout: float = 60) -> None:
    """Wait until the run's workspace holds `path` (a command inside made it)."""
    deadline = time.monotonic() + timeout
    while target.client.get(f"/agent/v1/run/{run_id}/files/{path}").status_code != 200:
        assert time.monotonic() < deadline, f"run {run_id} made no {path} in {timeout} s"
        time.sleep(0.05)


def tool_outputs(details: dict[str, Any], tool: str) -> list[Any]:
    """The outputs of the run's calls of `tool`, in order."""
    return [
        step["toolOutput"] for step in details["steps"] if step["type"] == "tool_result" and step["toolName"] == tool
    ]
