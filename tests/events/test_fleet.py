"""Two API processes on PostgreSQL: a run's stream read from the API process that neither ran nor started it."""

import statistics
import time
from datetime import datetime
from pathlib import Path

import httpx

from agentruns.storage import migrate
from tests.support.databases import needs_postgresql, postgres_database
from tests.support.factories import make_agent, make_run
from tests.support.fleet import api_processes
from tests.support.model_stub import ModelStub
from tests.support.sse import Frame, events_of, frames
from tests.support.workers import WorkerProcess

pytestmark = needs_postgresql


def test_a_stream_on_another_api_process_gets_every_event_live(
    model_stub: tuple[ModelStub, str], workspaces: Path
) -> None:
    _, stub_url = model_stub
    with postgres_database() as url:
        migrate.upgrade(url)
        # Streams re-read the log only every 60 s and ping as rarely: events arrive in time only by NOTIFY.
        apis = api_processes(url, workspaces, count=2, key_name="events-fleet", timeout=httpx.Timeout(30, read=20),
                             events_poll_seconds="60", events_keepalive_seconds="60")  # fmt: skip
        with apis as (starter, watcher):
            worker = WorkerProcess(url, workspaces, openai_compatible_base_url=stub_url)
            try:
                agent = make_agent(starter, model="openai-compatible/gpt-4o")
                words = " ".join(f"w{number}" for number in range(20))
                prompt = f'drip 0.05\ncall bash {{"command": "echo hi"}}\nreply {words}'
                run_id = make_run(starter, agent["id"], prompt=prompt)["id"]
                received: list[tuple[Frame, float]] = []
                with watcher.stream("GET", f"/agent/v1/run/{run_id}/events") as response:
                    for frame in frames(response):
                        if frame.comment is not None:
                            continue
                        received.append((frame, time.time()))
                        if len(received) == 1:
                            assert starter.post(f"/agent/v1/run/{run_id}/exec").status_code == 200
                stream = [frame for frame, _ in received]
                assert [(f.id, f.event, f.data) for f in stream] == [
                    (f.id, f.event, f.data) for f in events_of(starter, run_id)
                ]
                assert stream[-2].event == "run.completed"
                assert "".join(f.data["delta"] for f in stream if f.event == "run.text.delta") == words
                delays = [
                    arrived - datetime.fromisoformat(frame.data["timestamp"]).timestamp()
                    for frame, arrived in received[1:-1]
                ]
                print(f"{len(delays)} events from the worker through NOTIFY to the other API process: "
                      f"median {statistics.median(delays) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms")  # fmt: skip
            finally:
                worker.stop()
