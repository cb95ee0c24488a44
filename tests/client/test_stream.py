"""`stream()` against a scripted SSE server that drops connections: every event once, resumed by Last-Event-ID."""

import itertools
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentruns.client import (
    APIConnectionError,
    AsyncClient,
    Client,
    InternalServerError,
    NotFoundError,
    NotServedError,
    RetryPolicy,
    RunEvent,
    StreamError,
)
from tests.support.servers import free_port
from tests.support.sse_server import Cut, Script, ScriptedEventServer, scripted_event_server

RUN = "run_01jc0000000000000000000000"
NAMES = ("run.status", "run.step", "run.text.delta", "run.usage")
TERMINALS = ("run.completed", "run.failed", "run.cancelled", "run.timeout")


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedEventServer]:
    with scripted_event_server() as running:
        yield running


def _policy(cuts: int) -> RetryPolicy:
    # No backoff, so that scenarios run at once; the server's `retry: 1` paces reconnects after a drop.
    return RetryPolicy(initial_delay=0, max_reconnects=cuts + 1)


def _consume(server: ScriptedEventServer, script: Script, start: int | None) -> list[RunEvent]:
    with Client(server.base_url, "key", retry=_policy(len(script.cuts))) as client:
        return list(client.runs.stream(RUN, last_event_id=start))


def _consume_async(server: ScriptedEventServer, script: Script, start: int | None) -> list[RunEvent]:
    async def consume() -> list[RunEvent]:
        async with AsyncClient(server.base_url, "key", retry=_policy(len(script.cuts))) as client:
            return [event async for event in client.runs.stream(RUN, last_event_id=start)]

    return anyio.run(consume)


events_strategy = st.tuples(
    st.lists(st.tuples(st.sampled_from(NAMES), st.dictionaries(st.sampled_from("abc"), st.integers())), max_size=5),
    st.sampled_from((*TERMINALS, None)),
).map(lambda pair: [*pair[0], *([(pair[1], {"status": pair[1]})] if pair[1] else [])])
cuts_strategy = st.lists(
    st.builds(Cut, at=st.integers(min_value=0, max_value=2000), ending=st.sampled_from(("truncated", "ended"))),
    max_size=6,
)


def _check(server: ScriptedEventServer, script: Script, start: int | None, received: list[RunEvent]) -> None:
    first = (start or 0) + 1
    expected = [(number, name, data) for number, (name, data) in enumerate(script.events, start=1) if number >= first]
    assert [(event.id, event.event, event.data) for event in received] == expected
    connections = server.connections
    assert connections[0].last_event_id == (None if start is None else str(start))
    seen = start
    for before, after in itertools.pairwise(connections):
        # Each reconnection resumes after the last whole event the client got.
        if before.delivered_up_to is not None:
            seen = max(seen or 0, before.delivered_up_to)
        assert after.last_event_id == (None if seen is None else str(seen))
    assert all(connection.path == f"/agent/v1/run/{RUN}/events" for connection in connections)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=events_strategy, cuts=cuts_strategy, start=st.one_of(st.none(), st.integers(0, 3)), resumes=st.booleans())
def test_stream_yields_each_event_once_across_dropped_connections(
    server: ScriptedEventServer,
    events: list[tuple[str, dict[str, Any]]],
    cuts: list[Cut],
    start: int | None,
    resumes: bool,
) -> None:
    script = Script(events=events, cuts=list(cuts), resumes=resumes)
    server.load(script)
    received = _consume(server, script, start)
    _check(server, script, start, received)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=events_strategy, cuts=cuts_strategy)
def test_async_stream_yields_each_event_once_across_dropped_connections(
    server: ScriptedEventServer, events: list[tuple[str, dict[str, Any]]], cuts: list[Cut]
) -> None:
    script = Script(events=events, cuts=list(cuts))
    server.load(script)
    received = _consume_async(server, script, None)
    _check(server, script, None, received)


def test_stream_stops_at_the_terminal_event_without_waiting_for_close(server: ScriptedEventServer) -> None:
    events = [("run.status", {"status": "running"}), ("run.completed", {"output": "done"})]
    body_until_terminal = len(b"retry: 1\n\n: keep-alive\n\n") + sum(
        len(f"id: {n}\nevent: {name}\ndata: {{}}\n\n".encode()) for n, (name, _) in enumerate(events, start=1)
    )
    # Cut after the terminal event, before `close`: there is nothing left to resume, so no reconnection.
    script = Script(events=[(name, {}) for name, _ in events], cuts=[Cut(at=body_until_terminal)])
    server.load(script)
    received = _consume(server, script, None)
    assert [event.event for event in received] == ["run.status", "run.completed"]
    assert received[-1].is_terminal
    assert len(server.connections) == 1


def test_stream_gives_up_when_connections_keep_breaking_before_any_event(server: ScriptedEventServer) -> None:
    script = Script(events=[("run.completed", {})], cuts=[Cut(at=0)] * 10)
    server.load(script)
    with (
        Client(server.base_url, "key", retry=RetryPolicy(initial_delay=0, max_reconnects=3)) as client,
        pytest.raises(APIConnectionError, match="keeps breaking"),
    ):
        list(client.runs.stream(RUN))
    assert len(server.connections) == 4


def test_stream_raises_the_typed_error_of_a_refusal(server: ScriptedEventServer) -> None:
    envelope = b'{"error": {"code": "RESOURCE_NOT_FOUND", "message": "no run run_x"}}'
    server.load(Script(events=[], status=404, error_body=envelope))
    with (
        Client(server.base_url, "key", retry=RetryPolicy(initial_delay=0)) as client,
        pytest.raises(NotFoundError, match="no run run_x") as raised,
    ):
        list(client.runs.stream(RUN))
    assert raised.value.code == "RESOURCE_NOT_FOUND"
    assert len(server.connections) == 1


def test_stream_retries_a_429_then_streams(server: ScriptedEventServer) -> None:
    envelope = b'{"error": {"code": "RATE_LIMIT_EXCEEDED", "message": "slow down"}}'
    events = [("run.status", {"status": "running"}), ("run.completed", {"output": "done"})]
    server.load(Script(events=events, status=429, refusals=2, error_body=envelope, extra_headers={"Retry-After": "0"}))
    with Client(server.base_url, "key", retry=RetryPolicy(initial_delay=0)) as client:
        assert [event.event for event in client.runs.stream(RUN)] == ["run.status", "run.completed"]
    assert len(server.connections) == 3


def test_stream_gives_up_on_5xx_once_its_budget_is_spent(server: ScriptedEventServer) -> None:
    envelope = b'{"error": {"code": "INTERNAL_ERROR", "message": "busy"}}'
    server.load(Script(events=[], status=503, error_body=envelope, extra_headers={"Retry-After": "0"}))
    expected = pytest.raises(InternalServerError, match="busy")
    with Client(server.base_url, "key", retry=RetryPolicy(initial_delay=0, max_reconnects=2)) as client, expected:
        list(client.runs.stream(RUN))
    assert len(server.connections) == 3  # the first attempt and two retries, all answered 503


def test_stream_of_a_route_not_served_raises_not_served(server: ScriptedEventServer) -> None:
    envelope = b'{"error": {"code": "NOT_IMPLEMENTED", "message": "the event stream is not served"}}'
    server.load(Script(events=[], status=501, error_body=envelope, extra_headers={"x-should-retry": "false"}))
    with Client(server.base_url, "key") as client, pytest.raises(NotServedError):
        list(client.runs.stream(RUN))
    assert len(server.connections) == 1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("id: 1\nevent: run.status\ndata: not json\n\n", "not JSON"),
        ("id: 1\nevent: run.status\ndata: [1, 2]\n\n", "not an object"),
        ("id: one\nevent: run.status\ndata: {}\n\n", "no integer id"),
    ],
)
def test_stream_refuses_events_that_break_the_contract(server: ScriptedEventServer, raw: str, message: str) -> None:
    server.load(Script(events=[], raw_events=raw))
    with Client(server.base_url, "key") as client, pytest.raises(StreamError, match=message):
        list(client.runs.stream(RUN))


def test_stream_of_an_unreachable_server_raises_a_connection_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with (
        Client(url, "key", retry=RetryPolicy(initial_delay=0, max_reconnects=1)) as client,
        pytest.raises(APIConnectionError),
    ):
        list(client.runs.stream(RUN))
