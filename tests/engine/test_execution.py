"""Runs executed by a real worker: the audit trail, exec once, cancel, time limit, failures."""

import concurrent.futures
import os

import httpx
from genai_prices import calc_price
from pydantic_ai.usage import RequestUsage

from tests.engine.conftest import wait_for_status, wait_until
from tests.sandbox.conftest import pids_running
from tests.support.factories import error_of, make_agent, make_run
from tests.support.model_stub import CACHED_TOKENS, COMPLETION_TOKENS, PROMPT_TOKENS, ModelStub
from tests.support.workers import WorkerProcess


def _execute(client: httpx.Client, agent: dict, prompt: str) -> dict:
    run = make_run(client, agent["id"], prompt=prompt)
    response = client.post(f"/agent/v1/run/{run['id']}/exec")
    assert response.status_code == 200, response.text
    return response.json()


def test_offline_run_records_every_step_and_usage(client: httpx.Client, worker: WorkerProcess) -> None:
    agent = make_agent(client, model="offline/scripted", instructions="Be brief.")
    prompt = "\n".join([
        "think first the file",
        'call write {"path": "notes.txt", "content": "hello"}',
        'call read {"path": "notes.txt"}',
        "reply all done",
    ])  # fmt: skip
    executed = _execute(client, agent, prompt)
    assert executed["status"] == "running"
    assert executed["workflowId"].startswith("wrun_")
    assert wait_for_status(client, executed["id"])["status"] == "completed"
    details = client.get(f"/agent/v1/run/{executed['id']}").json()
    assert [(step["type"], step["toolName"]) for step in details["steps"]] == [
        ("thinking", None), ("tool_call", "write"), ("tool_result", "write"),
        ("tool_call", "read"), ("tool_result", "read"), ("output", None),
    ]  # fmt: skip
    assert details["steps"][4]["toolOutput"] == "hello"
    assert details["steps"][1]["toolInput"] == {"path": "notes.txt", "content": "hello"}
    assert all(step["durationMs"] is not None for step in details["steps"] if step["type"] == "tool_result")
    assert details["result"]["output"] == "all done"
    assert details["result"]["finalResponse"]["summary"] == "all done"
    assert details["workflowId"] == executed["workflowId"]
    assert len(details["usage"]["entries"]) == 3
    assert details["usage"]["toolCalls"] == 2
    assert details["usage"]["summary"]["totalTokens"] == sum(e["totalTokens"] for e in details["usage"]["entries"])
    assert "model request 3" in details["result"]["logs"]["runner"]
    started, completed = details["startedAt"], details["completedAt"]
    assert details["createdAt"] <= started <= completed
    assert details["usage"]["durationMs"] >= 0


def test_stub_run_usage_equals_the_servers_figures(
    client: httpx.Client, worker: WorkerProcess, model_stub: tuple[ModelStub, str]
) -> None:
    stub, _ = model_stub
    agent = make_agent(client, model="openai-compatible/gpt-4o")
    marker = f"marker-{os.urandom(4).hex()}"
    prompt = f'{marker}\ncall bash {{"command": "echo out; echo err >&2; exit 3"}}\ncall read {{"path": "missing.txt"}}'
    executed = _execute(client, agent, prompt)
    assert wait_for_status(client, executed["id"])["status"] == "completed"
    details = client.get(f"/agent/v1/run/{executed['id']}").json()
    assert len(stub.requests_for(marker)) == 3
    usage = details["usage"]
    assert (usage["inputTokens"], usage["outputTokens"], usage["cachedTokens"]) == (
        3 * PROMPT_TOKENS, 3 * COMPLETION_TOKENS, 3 * CACHED_TOKENS,
    )  # fmt: skip
    price = calc_price(
        RequestUsage(input_tokens=PROMPT_TOKENS, output_tokens=COMPLETION_TOKENS, cache_read_tokens=CACHED_TOKENS),
        "gpt-4o",
        provider_id="openai",
    ).total_price
    assert [entry["costMicros"] for entry in usage["entries"]] == [round(price * 1_000_000)] * 3
    assert usage["summary"]["costMicros"] == 3 * round(price * 1_000_000)
    bash_result = details["steps"][1]
    assert bash_result["toolOutput"] == {"exit_code": 3, "stdout": "out\n", "stderr": "err\n"}
    assert "echo out" in details["result"]["logs"]["runtime"]
    read_result = details["steps"][3]
    assert read_result["type"] == "tool_result"
    assert "does not exist" in str(read_result["toolOutput"])  # the failure went back to the model


def test_exactly_one_of_fifty_concurrent_execs_wins(client: httpx.Client, worker: WorkerProcess) -> None:
    run = make_run(client, make_agent(client)["id"], prompt="reply hi")
    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(lambda _: client.post(f"/agent/v1/run/{run['id']}/exec"), range(50)))
    assert sorted(response.status_code for response in responses) == [200] + [409] * 49
    for response in responses:
        if response.status_code == 409:
            assert response.headers["x-should-retry"] == "false"
            assert response.json()["error"]["code"] == "CONFLICT"
    assert wait_for_status(client, run["id"])["status"] == "completed"
    assert len(client.get(f"/agent/v1/run/{run['id']}").json()["usage"]["entries"]) == 1


def _sleep_marker() -> str:
    """A `sleep` argument no other process has: the tool's host pid is found by it (pids inside are the jail's)."""
    return f"{60 + int.from_bytes(os.urandom(2)) / 100_000:.5f}"


def test_cancel_kills_a_sleeping_tool(client: httpx.Client, worker: WorkerProcess) -> None:
    agent = make_agent(client)
    seconds = _sleep_marker()
    executed = _execute(client, agent, f'call bash {{"command": "exec sleep {seconds}"}}')
    wait_until(lambda: pids_running(seconds))
    cancelled = client.post(f"/agent/v1/run/{executed['id']}/cancel").json()
    assert cancelled == {"id": executed["id"], "status": "cancelled", "message": None}
    took = wait_until(lambda: not pids_running(seconds), timeout=10)
    print(f"the tool's process was gone {took:.2f} s after the cancel")
    details = client.get(f"/agent/v1/run/{executed['id']}").json()
    assert details["status"] == "cancelled"
    assert details["completedAt"] is not None
    assert [step["type"] for step in details["steps"]] == ["tool_call"]  # what was recorded stays
    wait_until(lambda: client.get(f"/agent/v1/run/{executed['id']}").json()["runtimeState"] == "archived")
    assert client.post(f"/agent/v1/run/{executed['id']}/cancel").json() == {
        "id": executed["id"], "status": "cancelled", "message": "run already cancelled; nothing to cancel",
    }  # fmt: skip


def test_cancel_aborts_a_model_request_in_flight(
    client: httpx.Client, worker: WorkerProcess, model_stub: tuple[ModelStub, str]
) -> None:
    stub, _ = model_stub
    marker = f"slow-{os.urandom(4).hex()}"
    executed = _execute(client, make_agent(client, model="openai-compatible/slow"), f"{marker}\nsleep 30")
    wait_until(lambda: len(stub.requests_for(marker)) == 1)
    client.post(f"/agent/v1/run/{executed['id']}/cancel")
    took = wait_until(lambda: stub.requests_for(marker)[0].disconnected_at is not None, timeout=10)
    print(f"the model request was aborted {took:.2f} s after the cancel")
    assert not stub.requests_for(marker)[0].answered
    assert client.get(f"/agent/v1/run/{executed['id']}/status").json()["status"] == "cancelled"


def test_cancel_of_a_queued_run_that_never_executed(client: httpx.Client) -> None:
    run = make_run(client, make_agent(client)["id"])
    assert client.post(f"/agent/v1/run/{run['id']}/cancel").json()["status"] == "cancelled"
    error_of(client.post(f"/agent/v1/run/{run['id']}/exec"), 409, "CONFLICT")


def test_a_run_over_its_time_limit_times_out(client: httpx.Client, worker: WorkerProcess) -> None:
    agent = make_agent(client, maxDurationMs=1500)
    seconds = _sleep_marker()
    executed = _execute(client, agent, f'call bash {{"command": "exec sleep {seconds}"}}')
    wait_until(lambda: pids_running(seconds))
    status = wait_for_status(client, executed["id"], timeout=30)
    assert status["status"] == "timeout"
    details = client.get(f"/agent/v1/run/{executed['id']}").json()
    assert details["error"]["code"] == "TIMEOUT"
    assert "1.5 s" in details["error"]["message"]
    assert details["failedAt"] is not None
    assert details["runtimeState"] == "archived"  # recorded before the run's end
    assert not pids_running(seconds)  # killed before the run's end was recorded


def test_a_failing_provider_fails_the_run_with_the_reason(
    client: httpx.Client, worker: WorkerProcess, model_stub: tuple[ModelStub, str]
) -> None:
    stub, _ = model_stub
    marker = f"fail-{os.urandom(4).hex()}"
    executed = _execute(client, make_agent(client, model="openai-compatible/broken"), f"{marker}\nfail 503")
    assert wait_for_status(client, executed["id"])["status"] == "failed"
    details = client.get(f"/agent/v1/run/{executed['id']}").json()
    assert details["error"]["code"] == "INTERNAL_ERROR"
    assert "503" in details["error"]["message"]
    assert len(stub.requests_for(marker)) >= 2  # the provider client retried before giving up


def test_missing_credentials_fail_at_once_naming_the_variable(client: httpx.Client, worker: WorkerProcess) -> None:
    executed = _execute(client, make_agent(client, model="anthropic/claude-sonnet-4-5"), "reply hi")
    assert wait_for_status(client, executed["id"])["status"] == "failed"
    details = client.get(f"/agent/v1/run/{executed['id']}").json()
    assert details["error"]["code"] == "AUTHORIZATION_ERROR"
    assert "ANTHROPIC_API_KEY" in details["error"]["message"]
    assert details["usage"]["entries"] == []


def test_a_run_whose_workflow_ended_behind_its_back_is_failed_not_left_running(
    client: httpx.Client, worker: WorkerProcess, database_url: str
) -> None:
    from agentruns.engine.client import EngineClient
    from tests.support.portal import async_bridge

    executed = _execute(client, make_agent(client), 'call bash {"command": "sleep 2"}\ncall bash {"command": "true"}')
    wait_for_status(client, executed["id"], {"running"})
    engine = EngineClient(database_url)
    try:  # cancel the workflow alone, as an operator's mistake would, leaving the run's row running
        with async_bridge(database_url) as bridge:
            bridge.call(engine.cancel, executed["workflowId"])
    finally:
        engine.close()
    assert wait_for_status(client, executed["id"], timeout=30)["status"] == "failed"
    error = client.get(f"/agent/v1/run/{executed['id']}").json()["error"]
    assert error["code"] == "INTERNAL_ERROR"
    assert "CANCELLED" in error["message"]
