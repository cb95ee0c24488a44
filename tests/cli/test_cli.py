"""The `agentruns` command, run as a real subprocess."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from agentruns.cli import app
from tests.support.servers import free_port
from tests.support.workspaces import reachable_directory

AGENTRUNS = str(Path(sys.executable).with_name("agentruns"))


def _run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AGENTRUNS, *args], env=os.environ | (env or {}), cwd=cwd, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "db", "keys"):
        assert command in result.output


def test_keys_create_prints_a_key_the_server_accepts(database_url: str, base_url: str) -> None:
    result = _run("keys", "create", "--org", "cli-org", env={"AGENTRUNS_DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    assert key.startswith("ar_")
    response = httpx.get(f"{base_url}/agent/v1/agents", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200


def test_keys_create_refuses_an_empty_org(database_url: str) -> None:
    result = _run("keys", "create", "--org", " ", env={"AGENTRUNS_DATABASE_URL": database_url})
    assert result.returncode == 2
    assert "--org" in result.stderr


def test_db_upgrade_names_a_bad_url() -> None:
    result = _run("db", "upgrade", env={"AGENTRUNS_DATABASE_URL": "mysql://localhost/x"})
    assert result.returncode == 2
    assert "sqlite:///" in result.stderr and "postgresql://" in result.stderr


@pytest.fixture
def home() -> Iterator[Path]:
    """A working directory whose `.agentruns/workspaces` the embedded worker's sandboxes can reach."""
    with reachable_directory() as directory:
        yield directory


def test_serve_with_no_configuration_uses_a_sqlite_file_under_dot_agentruns(home: Path) -> None:
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AGENTRUNS_")}
    server = subprocess.Popen(
        [AGENTRUNS, "serve", "--port", str(port)], cwd=home, env=environment,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90  # a cold start on a loaded 2-core machine can take half a minute
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health")
                break
            except httpx.ConnectError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert health.json()["database"] == "sqlite"
        assert (home / ".agentruns" / "agentruns.db").exists()
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0].decode()
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells how it ended.
    assert "Application shutdown complete" in output
    assert server.returncode in (0, -signal.SIGTERM), output
