"""A worker SIGKILLed mid-run: the resumed run's event log neither repeats nor skips an id, and a stream
that stays open across the crash gets every event once."""

import json
import os
import threading
from pathlib import Path

import httpx

from tests.engine.conftest import sleep_until_interrupted, wait_for_status, wait_until
from tests.support.factories import make_agent, make_run
from tests.support.model_stub import ModelStub
from tests.support.sse import Frame, events_of
from tests.support.workers import WorkerProcess


def test_a_resumed_run_repeats_and_skips_no_event(
    fresh: tuple[str, httpx.Client], model_stub: tuple[ModelStub, str], workspaces: Path
) -> None:
    url, client = fresh
    _, stub_url = model_stub
    prompt = "\n".join([
        f"events-crash-{os.urandom(4).hex()}",
        "drip 0.01",
        'call bash {"command": "echo one"}',
        f"call bash {json.dumps({'command': sleep_until_interrupted('3', then='echo two')})}",
        'call bash {"command": "echo three"}',
        "reply all three are done",
    ])  # fmt: skip
    first = WorkerProcess(url, workspaces, openai_compatible_base_url=stub_url, executor_id="events-a")
    run_id = make_run(client, make_agent(client, model="openai-compatible/gpt-4o")["id"], prompt=prompt)["id"]
    live: list[Frame] = []
    reader = threading.Thread(target=lambda: live.extend(events_of(client, run_id)), daemon=True)
    reader.start()
    assert client.post(f"/agent/v1/run/{run_id}/exec").status_code == 200
    steps = lambda: client.get(f"/agent/v1/run/{run_id}").json()["steps"]  # noqa: E731
    wait_until(lambda: len(steps()) >= 3)  # the second tool call has begun
    first.kill()
    # Restarted under its name, the worker resumes its runs at once (another worker would wait for its heart).
    second = WorkerProcess(url, workspaces, openai_compatible_base_url=stub_url, executor_id="events-a")
    try:
        assert wait_for_status(client, run_id, timeout=60)["status"] == "completed"
        reader.join(timeout=60)
    finally:
        second.stop()
    replayed = events_of(client, run_id)
    assert [(f.id, f.event, f.data) for f in live] == [(f.id, f.event, f.data) for f in replayed]
    *stored, close = replayed
    assert close.event == "close"
    assert [frame.id for frame in stored] == list(range(1, len(stored) + 1))
    details = client.get(f"/agent/v1/run/{run_id}").json()
    assert [frame.data["step"] for frame in stored if frame.event == "run.step"] == details["steps"]
    assert [frame.data["entry"] for frame in stored if frame.event == "run.usage"] == details["usage"]["entries"]
    statuses = [frame.data["status"] for frame in stored if frame.event in ("run.status", "run.completed")]
    assert statuses == ["queued", "running", "completed"]
    final_text = [f.data for f in stored if f.event == "run.text.delta" and f.data["modelRequest"] == 4]
    assert "".join(delta["delta"] for delta in final_text) == "all three are done"
