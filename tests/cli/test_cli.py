"""The `agentruns` command, run as a real subprocess."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from agentruns.cli import app
from tests.support.servers import agentruns_serve
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
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AGENTRUNS_")}
    with agentruns_serve(environment, cwd=home) as server:
        assert httpx.get(f"{server.url}/health").json()["database"] == "sqlite"
        assert (home / ".agentruns" / "agentruns.db").exists()
        key_file = home / ".agentruns" / "secrets.key"  # the embedded default's secrets key, made on first start
        assert key_file.stat().st_mode & 0o777 == 0o600
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells how it ended.
    assert "Application shutdown complete" in server.output
    assert server.process.returncode in (0, -signal.SIGTERM), server.output
