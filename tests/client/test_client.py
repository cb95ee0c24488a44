"""`Client` against the real server (SQLite and PostgreSQL): every endpoint, typed answers, typed errors."""

import pytest

from agentruns.client import (
    AuthorizationError,
    Client,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    RunStatus,
    WaitTimeoutError,
)
from agentruns.client.models import AgentOut, RunDetails


def test_agents_round_trip(sdk: Client) -> None:
    created = sdk.agents.create(
        "Janitor", "Tidy up.", model="offline/scripted", enabled_tools=["bash"], sandbox={"cpu": 1, "memory_mib": 512}
    )
    assert isinstance(created, AgentOut)
    assert created.id.startswith("agent_")
    assert (created.sandbox.cpu, created.sandbox.memory_mib) == (1, 512)
    assert created.enabled_tools == ["bash"]
    assert sdk.agents.get(created.id) == created
    updated = sdk.agents.update(created.id, description="described", enabled_tools=None, max_duration_ms=5000)
    assert (updated.description, updated.enabled_tools, updated.max_duration_ms) == ("described", None, 5000)
    assert updated.name == "Janitor"  # fields not given are not sent, so they do not change
    cleared = sdk.agents.update(created.id, description=None)
    assert cleared.description is None
    assert cleared.max_duration_ms == 5000
    assert [agent.id for agent in sdk.agents.list().agents] == [created.id]
    assert sdk.agents.delete(created.id).ok is True
    assert sdk.agents.get(created.id).is_active is False
    assert sdk.agents.list().agents == []
    with pytest.raises(NotFoundError) as raised:
        sdk.agents.update(created.id, name="again")
    assert raised.value.code == "RESOURCE_NOT_FOUND"
    assert raised.value.status == 404


def test_iterate_walks_every_page_once(sdk: Client) -> None:
    agents = [sdk.agents.create(f"agent {number}", "Help.", model="offline/scripted") for number in range(5)]
    assert [agent.id for agent in sdk.agents.iterate(limit=2)] == [agent.id for agent in reversed(agents)]
    first, second = agents[0], agents[1]
    runs = [sdk.runs.create(first.id, f"task {number}") for number in range(3)]
    sdk.runs.create(second.id, "another agent's run")
    listed = [run.id for run in sdk.runs.iterate(agent_id=first.id, limit=2)]
    assert listed == [run.id for run in reversed(runs)]
    page = sdk.runs.list(agent_id=first.id, limit=2)
    assert page.has_more is True
    assert page.next_cursor == runs[1].id


def test_runs_through_their_life_without_a_worker(sdk: Client) -> None:
    agent = sdk.agents.create("Helper", "Help.", model="offline/scripted")
    run = sdk.runs.create(agent.id, "Do it.", guidance="Briefly.", object_ids=["doc-1"])
    assert (run.status, run.object_ids) == (RunStatus.QUEUED, ["doc-1"])
    status = sdk.runs.status(run.id)
    assert (status.status, status.duration_ms) == (RunStatus.QUEUED, None)
    details = sdk.runs.details(run.id)
    assert isinstance(details, RunDetails)
    assert (details.prompt, details.guidance, details.steps) == ("Do it.", "Briefly.", [])
    assert [listed.id for listed in sdk.runs.list(status=RunStatus.QUEUED).runs] == [run.id]
    with pytest.raises(WaitTimeoutError, match="still queued") as waited:
        sdk.runs.wait(run.id, timeout=0.3, poll_interval=0.05)
    assert waited.value.status == "queued"
    cancelled = sdk.runs.cancel(run.id)
    assert cancelled.status == RunStatus.CANCELLED
    assert sdk.runs.wait(run.id).status == RunStatus.CANCELLED
    again = sdk.runs.cancel(run.id)
    assert again.status == RunStatus.CANCELLED
    assert again.message
    with pytest.raises(ConflictError) as raised:
        sdk.runs.exec(run.id)
    assert raised.value.code == "CONFLICT"


def test_errors_carry_their_code_and_field_details(sdk: Client, base_url: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        sdk.agents.create("", "Help.", enabled_tools=["bash"], disabled_tools=["read"])
    assert raised.value.code == "INVALID_INPUT"
    assert raised.value.status == 400
    assert "body.name" in [detail.field for detail in raised.value.details]
    with pytest.raises(NotFoundError):
        sdk.runs.status("run_missing")
    with pytest.raises(NotFoundError):
        sdk.agents.get("agent_x/../../run")  # an id is one path segment, whatever it holds
    with Client(base_url, "not-a-key") as stranger, pytest.raises(AuthorizationError) as refused:
        stranger.agents.list()
    assert (refused.value.status, refused.value.code) == (401, "AUTHORIZATION_ERROR")


def test_routes_not_served_yet_raise_not_served(sdk: Client) -> None:
    agent = sdk.agents.create("Helper", "Help.", model="offline/scripted")
    run = sdk.runs.create(agent.id, "Do it.")
    executed = sdk.execute("Say hello.", model="offline/scripted")  # served since the runs issue
    assert (executed.status, executed.run_id.startswith("run_")) == ("running", True)
    watching = sdk.runs.watch(run.id, "https://example.com/hook")  # served since the events issue
    assert (watching.ok, watching.callback_url) == (True, "https://example.com/hook")
    with pytest.raises(ConflictError):  # served since the runs issue: a queued run waits for no answer
        sdk.runs.input(run.id, "yes")


def test_health(sdk: Client, backend: str) -> None:
    health = sdk.health()
    assert (health.status, health.database) == ("ok", backend)


def test_stream_of_a_finished_run_replays_and_ends(sdk: Client) -> None:
    agent = sdk.agents.create("Helper", "Help.", model="offline/scripted")
    run = sdk.runs.create(agent.id, "Do it.")
    sdk.runs.cancel(run.id)
    events = list(sdk.runs.stream(run.id))
    assert events, "a finished run replays its events"
    assert [event.id for event in events] == list(range(1, len(events) + 1))
    assert events[-1].event == "run.cancelled"
    assert events[-1].is_terminal
    assert list(sdk.runs.stream(run.id, last_event_id=events[-1].id)) == []
