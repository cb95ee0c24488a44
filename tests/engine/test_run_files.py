"""`GET /agent/v1/run/{id}/files` lists a run's workspace, `/files/{path}` downloads a file, nothing outside."""

import http.client
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from agentruns.settings import Settings
from tests.conftest import new_key
from tests.engine.conftest import wait_for_status, wait_until
from tests.support.factories import error_of, make_agent, make_run
from tests.support.portal import AsyncBridge
from tests.support.servers import running_server
from tests.support.workers import WorkerProcess

PREPARE = " && ".join([
    "mkdir -p out/deep",
    "printf 'a,b\\n1,2\\n' > out/table.csv",
    "echo deep > out/deep/note.txt",
    "head -c 300000 /dev/urandom > blob.bin",
    "ln -s /etc/passwd leak",
    "ln -s ../.. up",
    "ln -s /workspace/out/table.csv alias.csv",
    "mkfifo pipe",
])  # fmt: skip


@pytest.fixture(scope="module")
def finished_run(base_url: str, worker: WorkerProcess, owner_key: str) -> dict[str, Any]:
    """A finished run whose workspace holds files, directories, symlinks in and out, and a FIFO."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {owner_key}"}, timeout=30) as client:
        prompt = f"call bash {json.dumps({'command': PREPARE})}\nreply done"
        run = make_run(client, make_agent(client)["id"], prompt=prompt)
        assert client.post(f"/agent/v1/run/{run['id']}/exec").status_code == 200
        assert wait_for_status(client, run["id"])["status"] == "completed"
        return client.get(f"/agent/v1/run/{run['id']}").json()


@pytest.fixture(scope="module")
def owner_key(bridge: AsyncBridge) -> str:
    """The key of the organization of the module's run (made once)."""
    return new_key(bridge)


def _raw_get(base_url: str, owner_key: str, target: str) -> tuple[int, dict[str, Any]]:
    """GET `target` byte for byte (no client normalises `..` or decodes `%2e` first); status and JSON body."""
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        connection.request("GET", target, headers={"Authorization": f"Bearer {owner_key}"})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    return response.status, json.loads(body) if body else {}


def test_files_of_the_workspace_are_listed_and_downloaded(
    base_url: str, owner_key: str, finished_run: dict[str, Any], workspace_root: Path
) -> None:
    run_id = finished_run["id"]
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {owner_key}"}, timeout=30) as client:
        listing = client.get(f"/agent/v1/run/{run_id}/files").json()
        table = client.get(f"/agent/v1/run/{run_id}/files/out/table.csv")
        blob = client.get(f"/agent/v1/run/{run_id}/files/blob.bin")
        alias = client.get(f"/agent/v1/run/{run_id}/files/alias.csv")
        absolute = client.get(f"/agent/v1/run/{run_id}/files//workspace/out/deep/note.txt")

    assert (listing["runId"], listing["runtimeState"], listing["truncated"]) == (run_id, "archived", False)
    assert listing["expiresAt"] > finished_run["completedAt"]
    kinds = {entry["path"]: (entry["type"], entry["size"]) for entry in listing["entries"]}
    assert kinds == {
        "alias.csv": ("symlink", 0), "blob.bin": ("file", 300000), "leak": ("symlink", 0),
        "out": ("directory", 0), "out/deep": ("directory", 0), "out/deep/note.txt": ("file", 5),
        "out/table.csv": ("file", 8), "pipe": ("other", 0), "up": ("symlink", 0),
    }  # fmt: skip
    assert [entry["path"] for entry in listing["entries"]] == sorted(kinds)
    assert (table.status_code, table.text) == (200, "a,b\n1,2\n")
    assert table.headers["content-type"].startswith("text/csv")
    assert table.headers["content-disposition"] == "attachment; filename*=UTF-8''table.csv"
    assert table.headers["x-content-type-options"] == "nosniff"
    assert blob.content == (workspace_root / run_id / "blob.bin").read_bytes()
    assert blob.headers["content-type"] == "application/octet-stream"
    assert alias.text == "a,b\n1,2\n"  # a symlink inside the workspace is followed as the sandbox would
    assert absolute.text == "deep\n"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("../../../../etc/passwd", 400),  # raw `..`, never normalised by a client
        ("out/../../run_x/files/secret", 400),
        ("%2e%2e/%2e%2e/etc/passwd", 400),  # encoded dots
        ("..%2F..%2F..%2Fetc%2Fpasswd", 400),  # encoded slashes
        ("%2Fetc%2Fpasswd", 400),  # absolute, encoded
        ("/etc/passwd", 400),  # absolute: `files//etc/passwd`
        ("/workspace/../etc/passwd", 400),
        ("leak", 400),  # a symlink to /etc/passwd
        ("up/etc/passwd", 400),  # a symlink above the workspace
        ("a%00b", 400),
        ("pipe", 400),  # not a regular file: never opened for reading
        ("out", 400),  # a directory
        ("%252e%252e%252fetc%252fpasswd", 404),  # decoded once: a strange but harmless name
        ("missing.txt", 404),
    ],
)
def test_no_path_leads_out_of_the_workspace(
    base_url: str, owner_key: str, finished_run: dict[str, Any], path: str, status: int
) -> None:
    code, body = _raw_get(base_url, owner_key, f"/agent/v1/run/{finished_run['id']}/files/{path}")
    assert code == status, body
    assert body["error"]["code"] == ("INVALID_INPUT" if status == 400 else "RESOURCE_NOT_FOUND")
    assert "root:" not in json.dumps(body)


def test_a_run_without_a_workspace_yet_or_of_another_organization_is_refused(
    client: httpx.Client, finished_run: dict[str, Any]
) -> None:
    queued = make_run(client, make_agent(client)["id"])["id"]
    assert "no workspace yet" in error_of(client.get(f"/agent/v1/run/{queued}/files"), 409, "CONFLICT")
    error_of(client.get(f"/agent/v1/run/{finished_run['id']}/files"), 404, "RESOURCE_NOT_FOUND")  # another org's
    error_of(client.get(f"/agent/v1/run/{finished_run['id']}/files/out/table.csv"), 404, "RESOURCE_NOT_FOUND")


def test_a_running_runs_workspace_is_listed(client: httpx.Client, worker: WorkerProcess) -> None:
    run = make_run(client, make_agent(client)["id"], prompt='call bash {"command": "echo early > early.txt; sleep 30"}')
    assert client.post(f"/agent/v1/run/{run['id']}/exec").status_code == 200
    files = f"/agent/v1/run/{run['id']}/files"
    wait_until(lambda: client.get(files).status_code == 200 and client.get(files).json()["entries"])
    listing = client.get(files).json()
    client.post(f"/agent/v1/run/{run['id']}/cancel")
    assert (listing["runtimeState"], listing["expiresAt"]) == ("running", None)
    assert [entry["path"] for entry in listing["entries"]] == ["early.txt"]


def test_an_api_process_that_cannot_reach_the_workspace_says_so(
    database_url: str, tmp_path: Path, owner_key: str, finished_run: dict[str, Any]
) -> None:
    elsewhere = Settings(database_url=database_url, workspace_root=str(tmp_path / "another-host"))
    with (
        running_server(elsewhere) as base,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {owner_key}"}, timeout=30) as client,
    ):
        response = client.get(f"/agent/v1/run/{finished_run['id']}/files")

    message = error_of(response, 503, "INTERNAL_ERROR")
    assert response.headers["x-should-retry"] == "false"
    assert "not reachable from this API process" in message
    assert "AGENTRUNS_WORKSPACE_ROOT" in message
