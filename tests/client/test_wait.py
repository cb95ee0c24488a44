"""`wait()` and `stream()` on runs a real worker executes on the offline model."""

import pytest

from agentruns.client import AsyncClient, Client, RunStatus
from tests.support.workers import WorkerProcess

PROMPT = 'think Look first.\ncall bash {"command": "echo hello"}\nreply All done.'


def test_wait_returns_when_the_run_has_completed(sdk: Client, worker: WorkerProcess) -> None:
    agent = sdk.agents.create("Helper", "Help.", model="offline/scripted")
    run = sdk.runs.create(agent.id, PROMPT)
    executed = sdk.runs.exec(run.id)
    assert executed.workflow_id
    status = sdk.runs.wait(run.id, timeout=60)
    assert status.status == RunStatus.COMPLETED, worker.output
    assert status.duration_ms is not None
    details = sdk.runs.details(run.id)
    assert details.result.output == "All done."
    assert [step.type for step in details.steps] == ["thinking", "tool_call", "tool_result", "output"]


def test_stream_follows_a_live_run_to_its_end(sdk: Client, worker: WorkerProcess) -> None:
    agent = sdk.agents.create("Helper", "Help.", model="offline/scripted")
    run = sdk.runs.create(agent.id, PROMPT)
    sdk.runs.exec(run.id)
    events = list(sdk.runs.stream(run.id))
    assert [event.id for event in events] == list(range(1, len(events) + 1))
    assert events[-1].event == "run.completed", worker.output
    assert sum(event.is_terminal for event in events) == 1
    steps = [event.data["step"]["type"] for event in events if event.event == "run.step"]
    assert steps == ["thinking", "tool_call", "tool_result", "output"]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_async_wait_and_stream(base_url: str, api_key: str, worker: WorkerProcess) -> None:
    async with AsyncClient(base_url, api_key) as sdk:
        agent = await sdk.agents.create("Helper", "Help.", model="offline/scripted")
        run = await sdk.runs.create(agent.id, "reply Fine.")
        await sdk.runs.exec(run.id)
        assert (await sdk.runs.wait(run.id, timeout=60)).status == RunStatus.COMPLETED, worker.output
        names = [event.event async for event in sdk.runs.stream(run.id)]
        assert names[-1] == "run.completed"


def test_workspace_files_webhooks_secret_metadata_and_limits(sdk: Client, worker: WorkerProcess) -> None:
    agent = sdk.agents.create("Writer", "Write.", model="offline/scripted")
    prompt = 'call write {"path": "notes/hello.txt", "content": "hello from the run\\n"}\nreply Written.'
    run = sdk.runs.create(agent.id, prompt, metadata={"ticket": "T-1"}, max_model_requests=5,
                          callback_url="https://hooks.example.com/agentruns")  # fmt: skip
    sdk.runs.exec(run.id)
    assert sdk.runs.wait(run.id, timeout=60).status == RunStatus.COMPLETED, worker.output

    listing = sdk.runs.files(run.id)
    assert "notes/hello.txt" in [entry.path for entry in listing.entries]
    assert sdk.runs.download(run.id, "notes/hello.txt") == b"hello from the run\n"
    assert [item.id for item in sdk.runs.list(metadata={"ticket": "T-1"}).runs] == [run.id]
    assert sdk.runs.list(metadata={"ticket": "T-2"}).runs == []

    hooks = sdk.runs.webhooks(run.id).webhooks
    assert [hook.callback_url for hook in hooks] == ["https://hooks.example.com/agentruns"]
    first = sdk.signing_secret()
    assert first.secret.startswith("whsec_")
    rotated = sdk.signing_secret(rotate=True)
    assert rotated.secret != first.secret
    assert sdk.signing_secret().secret == rotated.secret
