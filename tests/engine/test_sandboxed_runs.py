"""Runs whose tools act in their bubblewrap jail; workers that refuse to start without one; the dev fallback."""

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from agentruns.api.server import ApiServer
from agentruns.cli import app as cli
from agentruns.cli import serve
from agentruns.sandbox import availability, seccomp
from agentruns.services.auth import issue_key
from agentruns.settings import Settings
from agentruns.storage import migrate
from tests.engine.conftest import wait_for_status, wait_until
from tests.support.databases import database_url_for
from tests.support.factories import make_agent, make_run
from tests.support.portal import async_bridge
from tests.support.servers import running_server
from tests.support.workers import AGENTRUNS, WorkerProcess
from tests.support.workspaces import reachable_directory


def _run(client: httpx.Client, prompt: str, **agent: object) -> dict:
    run = make_run(client, make_agent(client, **agent)["id"], prompt=prompt)
    assert client.post(f"/agent/v1/run/{run['id']}/exec").status_code == 200
    assert wait_for_status(client, run["id"])["status"] == "completed"
    return client.get(f"/agent/v1/run/{run['id']}").json()


def test_a_runs_tools_act_in_its_jail(client: httpx.Client, worker: WorkerProcess, base_url: str) -> None:
    api_port = urlsplit(base_url).port
    probe = (
        "id -u; hostname; ls /root 2>&1; env | grep -c AGENTRUNS_; "
        f"(exec 3<>/dev/tcp/127.0.0.1/{api_port}) 2>/dev/null && echo reached || echo no-network; "
        "cat notes.txt; echo from-bash > made.txt"
    )
    prompt = "\n".join([
        'call write {"path": "notes.txt", "content": "from-write\\n"}',
        f"call bash {{\"command\": {probe!r}}}".replace("'", '"'),
        'call read {"path": "made.txt"}',
        'call read {"path": "/etc/passwd"}',
        'call grep {"pattern": "from-", "path": "/workspace"}',
        "reply done",
    ])  # fmt: skip
    details = _run(client, prompt, sandbox={"cpu": 1, "memoryMiB": 512})
    results = [step["toolOutput"] for step in details["steps"] if step["type"] == "tool_result"]

    assert results[1]["stdout"].splitlines() == [
        "1000", "sandbox", "ls: cannot access '/root': No such file or directory", "0", "no-network", "from-write",
    ]  # fmt: skip
    assert results[2] == "from-bash"
    assert "outside /workspace" in str(results[3])  # a tool's failure goes back to the model
    assert results[4] == "made.txt:1:from-bash\nnotes.txt:1:from-write"
    assert (details["provider"], details["runtimeId"], details["runtimeState"]) == (
        "bubblewrap", details["id"], "archived",
    )  # fmt: skip
    runtime_log = details["result"]["logs"]["runtime"]
    assert f"sandbox bubblewrap {details['id']} started: 1 cpu, 512 MiB memory, 256 processes" in runtime_log
    assert "$ id -u; hostname" in runtime_log
    assert "the workspace is kept for 3600 s" in runtime_log
    assert ", seccomp filter on (" in runtime_log
    assert "; seccomp filter on (" in "".join(worker.output)  # the worker's start-up line


PROJECT_FILE = Path(__file__).resolve().parents[2] / "pyproject.toml"
ESCAPES = [
    ("cat /etc/shadow /root/.bashrc " + str(PROJECT_FILE), None),
    ("echo x > /usr/escaped; echo x > /etc/escaped; echo x > /escaped", None),
    ("exec 3<>/dev/tcp/127.0.0.1/5432 && echo connected; exec 4<>/dev/tcp/1.1.1.1/443 && echo connected", None),
    ("sleep 30 & kill -9 -1; echo still here", None),
    ("bomb() { bomb | bomb & }; bomb; sleep 30", 3),
    ("python3 -c 'bytearray(2048 * 1024 * 1024)'", None),
    ("while :; do :; done", 2),
    ("i=0; while :; do i=$((i+1)); head -c 1M /dev/zero > fill$i; done", None),
]
"""Escape attempts, each a `bash` call of a run: its command and the time limit it asks for."""


def test_escape_attempts_through_the_agent_loop_are_contained_and_a_concurrent_run_goes_on(
    client: httpx.Client, worker: WorkerProcess
) -> None:
    calm_prompt = "\n".join([
        *[f'call bash {{"command": "sleep 1; echo calm {number} >> calm.txt"}}' for number in range(1, 6)],
        'call read {"path": "calm.txt"}',
        "reply calm",
    ])  # fmt: skip
    calm = make_run(client, make_agent(client)["id"], prompt=calm_prompt)
    hostile_prompt = "\n".join([
        *[f"call bash {json.dumps({'command': command} | ({} if seconds is None else {'timeout_seconds': seconds}))}"
          for command, seconds in ESCAPES],
        'call bash {"command": "echo alive"}',
        "reply contained",
    ])  # fmt: skip
    hostile = make_run(client, make_agent(client, sandbox={"cpu": 1, "memoryMiB": 512})["id"], prompt=hostile_prompt)
    for run in (calm, hostile):
        assert client.post(f"/agent/v1/run/{run['id']}/exec").status_code == 200
    ended = {run["id"]: wait_for_status(client, run["id"], timeout=120)["status"] for run in (calm, hostile)}

    assert set(ended.values()) == {"completed"}
    details = client.get(f"/agent/v1/run/{hostile['id']}").json()
    shadow, writes, network, kill_all, bomb, memory, spin, fill, alive = [
        step["toolOutput"] for step in details["steps"] if step["type"] == "tool_result"
    ]
    assert shadow["stdout"] == "" and shadow["stderr"].count("No such file or directory") == 3
    assert writes["stderr"].count("Read-only file system") == 3
    assert not any(Path(path).exists() for path in ("/usr/escaped", "/etc/escaped", "/escaped"))
    assert "connected" not in network["stdout"]
    assert "5432: Connection refused" in network["stderr"] and "443: Network is unreachable" in network["stderr"]
    assert kill_all["stdout"] == "still here\n"
    assert "Resource temporarily unavailable" in bomb["stderr"] and "time limit of 3 s" in bomb["stderr"]
    assert "MemoryError" in memory["stderr"]
    assert spin["exit_code"] is None and "time limit of 2 s" in spin["stderr"]
    assert fill["exit_code"] == 137 and "the workspace went over its disk limit of 64 MiB" in fill["stderr"]
    assert alive == {"exit_code": 0, "stdout": "alive\n", "stderr": ""}
    # The run next to it ran its five commands in order, and the service is healthy.
    calm_details = client.get(f"/agent/v1/run/{calm['id']}").json()
    read = [step["toolOutput"] for step in calm_details["steps"] if step["type"] == "tool_result"][-1]
    assert read == "\n".join(f"calm {number}" for number in range(1, 6))
    assert calm_details["startedAt"] < details["completedAt"] and details["startedAt"] < calm_details["completedAt"]
    assert client.get("/health").status_code == 200


def test_a_worker_refuses_to_start_when_bubblewrap_cannot_run(tmp_path: Path) -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AGENTRUNS_")}
    environment["AGENTRUNS_BWRAP_PATH"] = "/nonexistent/bwrap"
    started = subprocess.run(
        [AGENTRUNS, "worker"], env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert started.returncode == 1, started.stderr
    message = " ".join(started.stderr.split())
    assert "the worker cannot start: tools cannot run" in message
    assert "'/nonexistent/bwrap', from AGENTRUNS_BWRAP_PATH" in message
    assert "AGENTRUNS_ALLOW_UNISOLATED_SANDBOX=true" in message
    assert not (tmp_path / ".agentruns").exists()  # refused before it touched anything


@pytest.mark.usefixtures("tmp_cwd")  # the API alone opens ./.agentruns/agentruns.db
def test_serve_with_its_worker_refuses_too_and_without_it_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[object] = []
    monkeypatch.setattr(serve, "get_settings", lambda: Settings(bwrap_path="/nonexistent/bwrap"))

    def run(server: ApiServer) -> None:  # served, not listening: the test only asks whether serve starts it
        served.append(server.config.app)
        server.started = True

    monkeypatch.setattr(ApiServer, "run", run)

    refused = CliRunner().invoke(cli, ["serve"])
    api_only = CliRunner().invoke(cli, ["serve", "--no-worker"])

    assert refused.exit_code == 1
    assert "the worker cannot start" in refused.output
    assert (api_only.exit_code, len(served)) == (0, 1)


@pytest.mark.usefixtures("tmp_cwd")
def test_a_worker_refuses_to_start_without_a_seccomp_filter_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seccomp, "status", lambda: seccomp.Filter(None, "no filter is written for riscv64"))
    monkeypatch.setattr(availability, "_warned", set())
    monkeypatch.setattr(ApiServer, "run", lambda server: setattr(server, "started", True))

    with reachable_directory("agentruns-workspaces-") as base:
        root = str(base / "ws")
        monkeypatch.setattr(serve, "get_settings", lambda: Settings(workspace_root=root))
        refused = CliRunner().invoke(cli, ["serve"])
        monkeypatch.setattr(serve, "get_settings", lambda: Settings(workspace_root=root, allow_unfiltered_sandbox=True))
        allowed = CliRunner().invoke(cli, ["serve"])

    assert refused.exit_code == 1
    message = " ".join(refused.output.split())
    assert "the worker cannot start: tools cannot run: no seccomp filter can be applied to them here" in message
    assert "no filter is written for riscv64. To run them in bubblewrap without one, set" in message
    assert "AGENTRUNS_ALLOW_UNFILTERED_SANDBOX=true" in message
    assert allowed.exit_code == 0, allowed.output


@pytest.fixture(scope="module")
def unisolated(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[httpx.Client, Path, WorkerProcess]]:
    """A database of its own with a worker that may not use bubblewrap but may fall back, keeping workspaces 1 s."""
    with (
        database_url_for(backend, tmp_path_factory.mktemp("unisolated")) as url,
        reachable_directory("agentruns-workspaces-") as base,
    ):
        migrate.upgrade(url)
        with async_bridge(url) as bridge:
            key = bridge.call(issue_key, bridge.db, "unisolated").key
        worker = WorkerProcess(url, base / "ws", bwrap_path="/nonexistent/bwrap", allow_unisolated_sandbox="true",
                               workspace_keep_seconds="1")  # fmt: skip
        try:
            with (
                running_server(Settings(database_url=url, workspace_root=str(base / "ws"))) as server,
                httpx.Client(base_url=server, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client,
            ):
                yield client, base / "ws", worker
        finally:
            worker.stop()


def test_the_unisolated_fallback_runs_tools_only_when_allowed_and_says_so(
    unisolated: tuple[httpx.Client, Path, WorkerProcess],
) -> None:
    client, workspaces, worker = unisolated
    details = _run(client, 'call bash {"command": "pwd; echo hi > hi.txt"}\nreply done')

    assert details["provider"] == "unisolated"
    assert details["steps"][1]["toolOutput"]["stdout"] == f"{workspaces / details['id']}\n"  # the host's own path
    assert "WITHOUT ISOLATION" in details["result"]["logs"]["runtime"]
    assert "UNISOLATED SANDBOX" in "".join(worker.output)


def test_a_kept_workspace_is_deleted_by_the_sweep_after_its_time(
    unisolated: tuple[httpx.Client, Path, WorkerProcess],
) -> None:
    client, workspaces, _ = unisolated
    details = _run(client, 'call write {"path": "result.txt", "content": "42"}\nreply done')
    run_id = details["id"]
    assert details["runtimeState"] == "archived"
    assert [entry["path"] for entry in client.get(f"/agent/v1/run/{run_id}/files").json()["entries"]] == ["result.txt"]

    wait_until(lambda: client.get(f"/agent/v1/run/{run_id}").json()["runtimeState"] == "ended", timeout=20)

    assert not (workspaces / run_id).exists()
    assert client.get(f"/agent/v1/run/{run_id}/files").status_code == 404
