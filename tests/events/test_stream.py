"""`GET /agent/v1/run/{id}/events`: replay after any id, live events as the run runs, then `close`."""

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from casedev import Casedev
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentruns.settings import Settings
from tests.conftest import new_key
from tests.engine.conftest import wait_for_status
from tests.support.factories import error_of, make_agent, make_run
from tests.support.portal import AsyncBridge
from tests.support.servers import running_server
from tests.support.sse import Frame, events_of, frames
from tests.support.workers import WorkerProcess

TERMINAL = {"run.completed", "run.failed", "run.cancelled", "run.timeout"}
PROMPT = "\n".join([
    "drip 0.04",  # 10 words over 0.4 s: the text is passed on in several batches (every 0.1 s)
    'call bash {"command": "echo one"}',
    'call write {"path": "a.txt", "content": "two"}',
    "reply the answer is written word by word by the stub",
])  # fmt: skip


def _finish(client: httpx.Client, prompt: str = PROMPT) -> str:
    agent = make_agent(client, model="openai-compatible/gpt-4o")
    run = make_run(client, agent["id"], prompt=prompt)
    assert client.post(f"/agent/v1/run/{run['id']}/exec").status_code == 200
    assert wait_for_status(client, run["id"])["status"] == "completed"
    return run["id"]


def _key(frame: Frame) -> tuple[Any, ...]:
    return frame.id, frame.event, frame.data


@pytest.fixture(scope="module")
def finished(base_url: str, bridge: AsyncBridge, worker: WorkerProcess) -> Iterator[tuple[httpx.Client, str]]:
    """A client of a fresh organization and one of its runs, completed."""
    headers = {"Authorization": f"Bearer {new_key(bridge)}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        yield client, _finish(client)


def test_replay_from_the_start_is_the_whole_run_then_close(finished: tuple[httpx.Client, str]) -> None:
    client, run_id = finished
    read = events_of(client, run_id, after=0)
    *stored, close = read
    assert (close.event, close.id, close.data) == ("close", None, {"type": "close", "runId": run_id})
    assert [frame.id for frame in stored] == list(range(1, len(stored) + 1))
    assert all(frame.data["type"] == frame.event and frame.data["runId"] == run_id for frame in stored)
    assert all(frame.data["sequence"] == frame.id for frame in stored)
    assert [(frame.event, frame.data["status"]) for frame in stored[:2]] == [
        ("run.status", "queued"), ("run.status", "running"),
    ]  # fmt: skip
    assert [frame.event for frame in stored if frame.event in TERMINAL] == ["run.completed"]
    assert stored[-1].event == "run.completed"
    details = client.get(f"/agent/v1/run/{run_id}").json()
    assert stored[-1].data["output"] == details["result"]["output"] == "the answer is written word by word by the stub"
    assert stored[-1].data["completedAt"] == details["completedAt"]
    assert [frame.data["step"] for frame in stored if frame.event == "run.step"] == details["steps"]
    usage = [frame.data for frame in stored if frame.event == "run.usage"]
    assert [event["entry"] for event in usage] == details["usage"]["entries"]
    assert usage[-1]["totals"]["totalTokens"] == details["usage"]["summary"]["totalTokens"]
    assert usage[-1]["totals"]["modelRequests"] == 3
    deltas = [frame.data for frame in stored if frame.event == "run.text.delta"]
    assert len(deltas) > 1, "the stub drips the answer: it arrives in pieces"
    assert {delta["modelRequest"] for delta in deltas} == {3}
    assert "".join(delta["delta"] for delta in deltas) == details["result"]["output"]
    lengths = [len(delta["delta"]) for delta in deltas]
    assert [delta["offset"] for delta in deltas] == list(itertools.accumulate([0, *lengths[:-1]]))
    # The text streams before the step that records it.
    names = [frame.event for frame in stored]
    assert names.index("run.text.delta") < len(names) - 1 - names[::-1].index("run.step")


def test_replay_from_the_middle_and_from_the_last_id(finished: tuple[httpx.Client, str]) -> None:
    client, run_id = finished
    everything = events_of(client, run_id)
    last = everything[-2].id
    assert last is not None
    middle = last // 2
    rest = [_key(f) for f in everything[middle:]]
    assert [_key(f) for f in events_of(client, run_id, after=middle)] == rest
    assert [_key(f) for f in events_of(client, run_id, header=middle)] == rest
    # An EventSource reconnects with its original URL and the header: the header wins.
    assert [_key(f) for f in events_of(client, run_id, after=0, header=middle)] == rest
    assert [f.event for f in events_of(client, run_id, after=last)] == ["close"]
    assert [f.event for f in events_of(client, run_id, after=last + 100)] == ["close"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(min_value=1, max_value=8), max_size=8))
def test_reconnecting_with_last_event_id_after_any_disconnects_reads_each_event_once(
    finished: tuple[httpx.Client, str], cuts: list[int]
) -> None:
    client, run_id = finished
    everything = [_key(frame) for frame in events_of(client, run_id)]
    received: list[tuple[Any, ...]] = []
    last: int | None = None
    for cut in [*cuts, 0]:  # hang up after `cut` events, reconnect; finally read to the end
        read = events_of(client, run_id, header=last, stop_after=cut)
        received += [_key(frame) for frame in read]
        ids = [frame.id for frame in read if frame.id is not None]
        last = ids[-1] if ids else last
        if read and read[-1].event == "close":
            break
    assert received == everything


def test_live_events_arrive_as_the_run_runs_and_reconnects_lose_nothing(
    client: httpx.Client, worker: WorkerProcess
) -> None:
    agent = make_agent(client, model="openai-compatible/gpt-4o")
    words = " ".join(f"w{number}" for number in range(30))
    run = make_run(client, agent["id"], prompt=f'drip 0.02\ncall bash {{"command": "sleep 0.3"}}\nreply {words}')
    path = f"/agent/v1/run/{run['id']}/events"
    received: list[Frame] = []
    with client.stream("GET", path) as response:
        stream = (frame for frame in frames(response) if frame.comment is None)
        first = next(stream)
        assert (first.id, first.event, first.data["status"]) == (1, "run.status", "queued")
        received.append(first)
        # The run starts only now, while the stream is open: what follows is live.
        assert client.post(f"/agent/v1/run/{run['id']}/exec").status_code == 200
        received += [next(stream) for _ in range(3)]  # then hang up in the middle of the run
    assert client.get(f"/agent/v1/run/{run['id']}/status").json()["status"] == "running"
    while received[-1].event != "close":  # reconnect every 3 events, as a flaky network would make us
        received += events_of(client, run["id"], header=received[-1].id, stop_after=3)
    ids = [frame.id for frame in received if frame.id is not None]
    assert ids == list(range(1, len(ids) + 1))
    assert [_key(f) for f in received] == [_key(f) for f in events_of(client, run["id"], after=0)]
    deltas = [frame.data["delta"] for frame in received if frame.event == "run.text.delta"]
    assert "".join(deltas) == words


def test_a_cancelled_run_ends_its_stream_with_run_cancelled(client: httpx.Client, worker: WorkerProcess) -> None:
    agent = make_agent(client, model="openai-compatible/gpt-4o")
    run = make_run(client, agent["id"], prompt='call bash {"command": "sleep 30"}')
    assert client.post(f"/agent/v1/run/{run['id']}/exec").status_code == 200
    with client.stream("GET", f"/agent/v1/run/{run['id']}/events") as response:
        seen: list[Frame] = []
        for frame in frames(response):
            if frame.comment is not None:
                continue
            seen.append(frame)
            if frame.event == "run.step":  # the tool call is recorded: the tool is running
                assert client.post(f"/agent/v1/run/{run['id']}/cancel").json()["status"] == "cancelled"
    assert [frame.event for frame in seen[-2:]] == ["run.cancelled", "close"]
    assert seen[-2].data["status"] == "cancelled"
    wait_for_status(client, run["id"])
    # Nothing the worker records after the cancel (the stopped tool's result) joins the log after its end.
    assert events_of(client, run["id"])[-2].event == "run.cancelled"


def test_a_finished_run_without_stored_events_still_replays_its_end_and_closes(
    client: httpx.Client, bridge: AsyncBridge
) -> None:
    from sqlalchemy import delete

    from agentruns.storage.models import RunEvent

    run = make_run(client, make_agent(client)["id"])
    client.post(f"/agent/v1/run/{run['id']}/cancel")

    async def forget() -> None:  # as for a run that ended before the event log existed
        async with bridge.db.write() as session:
            await session.execute(delete(RunEvent).where(RunEvent.run_id == run["id"]))

    bridge.call(forget)
    read = events_of(client, run["id"])
    assert [(f.id, f.event, f.data["status"]) for f in read[:-1]] == [(1, "run.cancelled", "cancelled")]
    assert read[-1].event == "close"


def test_unknown_and_foreign_runs_are_404_and_bad_ids_are_400(client: httpx.Client, bridge: AsyncBridge) -> None:
    run = make_run(client, make_agent(client)["id"])
    error_of(client.get("/agent/v1/run/run_nope/events"), 404, "RESOURCE_NOT_FOUND")
    with httpx.Client(base_url=str(client.base_url), headers={"Authorization": f"Bearer {new_key(bridge)}"}) as other:
        error_of(other.get(f"/agent/v1/run/{run['id']}/events"), 404, "RESOURCE_NOT_FOUND")
    path = f"/agent/v1/run/{run['id']}/events"
    error_of(client.get(path, params={"lastEventId": -1}), 400, "INVALID_INPUT")
    error_of(client.get(path, params={"lastEventId": "x"}), 400, "INVALID_INPUT")
    error_of(client.get(path, headers={"Last-Event-ID": "abc"}), 400, "INVALID_INPUT")


def test_idle_streams_get_keep_alive_comments(settings: Settings, api_key: str) -> None:
    quick = settings.model_copy(update={"events_keepalive_seconds": 0.2})
    with (
        running_server(quick) as base,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {api_key}"}, timeout=30) as client,
    ):
        run = make_run(client, make_agent(client)["id"])  # queued, never executed: nothing will happen
        with client.stream("GET", f"/agent/v1/run/{run['id']}/events") as response:
            received = frames(response)
            assert next(received).event == "run.status"
            assert next(received).comment is not None
            assert next(received).comment is not None


def test_the_official_sdk_reads_the_stream_as_json_objects(finished: tuple[httpx.Client, str]) -> None:
    client, run_id = finished
    key = client.headers["Authorization"].removeprefix("Bearer ")
    with Casedev(api_key=key, base_url=str(client.base_url), max_retries=0) as sdk:
        received = list(sdk.agent.v1.run.events(run_id, last_event_id=0))
    assert [event["type"] for event in received][-2:] == ["run.completed", "close"]  # type: ignore[index]
    assert received[0]["sequence"] == 1  # type: ignore[index]
