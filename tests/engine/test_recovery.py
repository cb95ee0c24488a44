"""A worker killed with SIGKILL mid-run: the run continues from its last finished step, nothing twice, and
finds the files its sandbox wrote before; one whose engine connections were cut goes on."""

import json
import os
import time
from pathlib import Path

import httpx
import pytest

from tests.engine.conftest import quick_worker, sleep_until_interrupted, wait_for_status, wait_until
from tests.sandbox.conftest import commands_running, pids_running
from tests.support.databases import cut_connections, needs_postgresql
from tests.support.factories import make_agent, make_run
from tests.support.model_stub import ModelStub
from tests.support.workers import WorkerProcess


@pytest.mark.parametrize(
    ("ending", "second_worker"), [("SIGKILL", "restarted"), ("SIGKILL", "another"), ("SIGTERM", "another")]
)
def test_a_stopped_worker_run_resumes_with_no_step_twice(
    fresh: tuple[str, httpx.Client],
    model_stub: tuple[ModelStub, str],
    workspaces: Path,
    ending: str,
    second_worker: str,
) -> None:
    url, client = fresh
    stub, stub_url = model_stub
    marker = f"crash-{os.urandom(4).hex()}"
    # Unique, to find the tool's processes on the host; longer than the wait below, so that only a kill ends it.
    seconds = f"6.{int.from_bytes(os.urandom(2)) % 10_000:04d}"
    interrupted = json.dumps({"command": sleep_until_interrupted(seconds, then="echo two")})
    prompt = "\n".join([
        marker,
        'call bash {"command": "echo one | tee one.txt"}',
        'call read {"path": "absent.txt"}',  # a tool failure, which the replay raises again from the journal
        f"call bash {interrupted}",
        'call bash {"command": "cat one.txt; echo three"}',  # in the resumed run's new sandbox
        "reply done",
    ])  # fmt: skip
    first = quick_worker(url, workspaces, stub_url, "worker-a")
    run = make_run(client, make_agent(client, model="openai-compatible/gpt-4o")["id"], prompt=prompt)
    assert client.post(f"/agent/v1/run/{run['id']}/exec").status_code == 200
    steps = lambda: client.get(f"/agent/v1/run/{run['id']}").json()["steps"]  # noqa: E731
    wait_until(lambda: len(steps()) >= 5 and pids_running(seconds))  # the third tool call runs
    if ending == "SIGKILL":
        first.kill()
    else:
        first.stop()
    wait_until(lambda: not commands_running(seconds), timeout=5)  # the tool's processes died with their worker
    assert client.get(f"/agent/v1/run/{run['id']}/status").json()["status"] == "running"
    killed_at = time.monotonic()
    executor = "worker-a" if second_worker == "restarted" else "worker-b"
    second = quick_worker(url, workspaces, stub_url, executor)
    try:
        assert wait_for_status(client, run["id"], timeout=60)["status"] == "completed"
        print(f"after {ending}, the {second_worker} worker finished the run in {time.monotonic() - killed_at:.1f} s")
    finally:
        second.stop()
    details = client.get(f"/agent/v1/run/{run['id']}").json()
    assert [(step["type"], step["toolName"]) for step in details["steps"]] == [
        ("tool_call", "bash"), ("tool_result", "bash"), ("tool_call", "read"), ("tool_result", "read"),
        ("tool_call", "bash"), ("tool_result", "bash"), ("tool_call", "bash"), ("tool_result", "bash"),
        ("output", None),
    ]  # fmt: skip
    results = [step["toolOutput"] for step in details["steps"] if step["type"] == "tool_result"]
    assert [result["stdout"] for result in results if "stdout" in result] == ["one\n", "two\n", "one\nthree\n"]
    assert "absent.txt" in results[1]["error"]
    assert (details["provider"], details["runtimeId"], details["runtimeState"]) == ("bubblewrap", run["id"], "archived")
    assert len(details["usage"]["entries"]) == 5
    requests = stub.requests_for(marker)
    assert sorted(request.tool_results for request in requests) == [0, 1, 2, 3, 4], "a model request was sent twice"
    assert details["result"]["output"] == "done"


@needs_postgresql
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_worker_whose_engine_connections_were_cut_goes_on_running_runs(
    fresh: tuple[str, httpx.Client], workspaces: Path
) -> None:
    # The engine's pool does not ping a connection before each use (a round trip each, see engine/worker.py): a
    # statement on a dropped one fails, and DBOS runs it again on a new connection.
    url, client = fresh
    worker = WorkerProcess(url, workspaces)
    try:
        agent = make_agent(client)["id"]
        first = make_run(client, agent, prompt="reply one")["id"]
        assert client.post(f"/agent/v1/run/{first}/exec").status_code == 200
        assert wait_for_status(client, first)["status"] == "completed"
        cut = cut_connections(url, application_name="dbos_transact")
        second = make_run(client, agent, prompt="reply two")["id"]
        assert client.post(f"/agent/v1/run/{second}/exec").status_code == 200
        assert wait_for_status(client, second)["status"] == "completed"
    finally:
        worker.stop()
    assert cut >= 1
