"""`agentruns demo`: from a fresh install to a finished run, on the demo's own server or on a configured one."""

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from agentruns.cli import app, demo
from agentruns.settings import Settings
from agentruns.storage import migrate
from tests.cli.conftest import Invoke, json_of
from tests.support.servers import free_port, running_server
from tests.support.workers import WorkerProcess
from tests.support.workspaces import reachable_directory

ROOT = Path(__file__).resolve().parents[2]
AGENTRUNS = str(Path(sys.executable).with_name("agentruns"))


def _fresh_environment(home: Path) -> dict[str, str]:
    """The environment of someone who just cloned the repository: no agentruns variable, no config file."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AGENTRUNS_")}
    environment.pop("XDG_CONFIG_HOME", None)
    return environment | {"HOME": str(home), "COLUMNS": "120"}


@pytest.fixture
def home() -> Iterator[Path]:
    """A working directory (and home) whose `.agentruns/workspaces` the sandboxes' user can reach."""
    with reachable_directory("agentruns-demo-") as directory:
        yield directory


@pytest.fixture
def fresh_install(home: Path) -> Path:
    """`agentruns` installed in a new virtual environment with `pip install -e`, as the README's quick start does.

    The dependencies come from this environment's site-packages (through a .pth file), as they would from PyPI:
    `--no-deps` keeps the test off the network and quick; the editable install of agentruns is the new one's own.
    """
    venv = home / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    [site_packages] = (venv / "lib").glob("python*/site-packages")
    (site_packages / "outer-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet", "--no-deps",
         "-e", str(ROOT)],
        check=True, timeout=300, capture_output=True,
    )  # fmt: skip
    return venv / "bin" / "agentruns"


def test_the_demo_on_a_fresh_install_starts_a_server_shows_a_run_and_stops_the_server(
    fresh_install: Path, home: Path
) -> None:
    port = free_port()
    result = subprocess.run(
        [str(fresh_install), "demo", "--port", str(port)], cwd=home, env=_fresh_environment(home),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    log = home / ".agentruns" / "demo-server.log"
    assert result.returncode == 0, result.stdout + result.stderr + (log.read_text() if log.exists() else "")
    lines = result.stdout.splitlines()
    assert f"Starting agentruns on 127.0.0.1:{port} with a SQLite file under ./.agentruns/ and a new key." in lines
    assert any(line.startswith("run run_") for line in lines)
    for tool in ("write", "bash", "grep"):
        assert any(line.startswith(f"→ {tool} ") for line in lines), result.stdout
    assert "← grep notes.md:3:- each run has its own sandbox" in lines
    summary = next(line for line in lines if line.startswith("completed · "))
    assert " · 8 steps · " in summary and summary.endswith(" tokens · $0.0000")
    assert "  the API's interactive reference   http://127.0.0.1:2728/docs" in lines
    assert any("docs/cli.md" in line for line in lines) and any("docs/sdk.md" in line for line in lines)
    assert (home / ".agentruns" / "agentruns.db").exists()
    assert "Application shutdown complete" in log.read_text()  # stopped, and gracefully
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health")


def test_the_demo_says_at_once_when_tools_cannot_be_sandboxed(home: Path) -> None:
    environment = _fresh_environment(home) | {"AGENTRUNS_BWRAP_PATH": str(home / "no-bwrap")}
    result = subprocess.run(
        [AGENTRUNS, "demo", "--port", str(free_port())], cwd=home, env=environment, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "error: the demo's server could not start: its worker refused to start" in result.stderr
    assert "cannot be put in a sandbox on this machine" in result.stderr
    assert "AGENTRUNS_BWRAP_PATH" in result.stderr and "apt-get install bubblewrap" in result.stderr


def test_the_demo_runs_on_the_configured_server(agentruns: Invoke, worker: WorkerProcess) -> None:
    summary = json_of(agentruns("demo", "--json"))
    assert (summary["serverStarted"], summary["serverKept"], summary["apiKey"]) == (False, False, None)
    assert summary["status"] == "completed", worker.output
    details = summary["details"]
    assert [step["toolName"] for step in details["steps"] if step["type"] == "tool_call"] == ["write", "bash", "grep"]
    [grepped] = [step["toolOutput"] for step in details["steps"] if step["toolName"] == "grep" and step["toolOutput"]]
    assert grepped == "notes.md:3:- each run has its own sandbox"
    assert summary["steps"] == len(details["steps"]) == 8
    assert summary["totalTokens"] == details["usage"]["summary"]["totalTokens"] > 0
    assert json_of(agentruns("agents", "get", summary["agentId"], "--json"))["model"] == "offline/scripted"


def test_the_demo_uses_a_server_running_on_the_default_port_if_it_has_a_key_for_it(
    base_url: str, api_key: str, worker: WorkerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "DEFAULT_BASE_URL", base_url)  # the test server stands for one on 127.0.0.1:2728
    environment = {"AGENTRUNS_URL": None, "AGENTRUNS_API_KEY": api_key, "AGENTRUNS_CONFIG": os.devnull}
    result = CliRunner().invoke(app, ["demo"], env=environment | {"COLUMNS": "120"})
    assert result.exit_code == 0, result.output + "".join(worker.output)
    lines = result.stdout.splitlines()
    assert lines[0] == f"Using the agentruns server running at {base_url}."
    assert "← grep notes.md:3:- each run has its own sandbox" in lines
    assert any(line.startswith("completed · ") and " · 8 steps · " in line for line in lines)
    assert f"  the API's interactive reference   {base_url}/docs" in lines
    assert not any("stopped" in line for line in lines)  # it started no server, so it stops none


def test_the_demo_starts_no_server_where_one_is_configured(agentruns: Invoke) -> None:
    result = agentruns("demo", "--port", "2729")
    assert result.exit_code == 2
    assert "--port is for a server the demo starts" in result.output


def test_the_demo_does_not_wait_for_ever_on_a_server_without_a_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'agentruns.db'}"
    migrate.upgrade(url)
    monkeypatch.setattr(demo, "QUEUED_SECONDS", 0.5)
    with running_server(Settings(database_url=url, api_key=SecretStr("demo-test-key"))) as base_url:
        environment = {"AGENTRUNS_URL": base_url, "AGENTRUNS_API_KEY": "demo-test-key", "AGENTRUNS_CONFIG": os.devnull}
        result = CliRunner().invoke(app, ["demo"], env=environment)
        assert result.exit_code == 1, result.output
        assert "no worker took the run in 0 s (it is cancelled)" in result.stderr
        runs = httpx.get(f"{base_url}/agent/v1/run", headers={"Authorization": "Bearer demo-test-key"}).json()
    assert [run["status"] for run in runs["runs"]] == ["cancelled"]


def test_the_demo_json_of_a_kept_server_says_how_to_use_it_and_stop_it(home: Path) -> None:
    result = subprocess.run(
        [AGENTRUNS, "demo", "--port", str(free_port()), "--keep", "--json"], cwd=home, env=_fresh_environment(home),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    try:
        assert (summary["serverStarted"], summary["serverKept"], summary["status"]) == (True, True, "completed")
        headers = {"Authorization": f"Bearer {summary['apiKey']}"}
        status = httpx.get(f"{summary['url']}/agent/v1/run/{summary['runId']}/status", headers=headers)
        assert status.json()["status"] == "completed"
    finally:
        os.kill(summary["serverPid"], 15)
