"""The official Case.dev Python SDK (casedev 0.69.0), unmodified, works against agentruns."""

from collections.abc import Iterator

import casedev
import pytest


@pytest.fixture
def sdk(base_url: str, api_key: str) -> Iterator[casedev.Casedev]:
    with casedev.Casedev(api_key=api_key, base_url=base_url, max_retries=0) as client:
        yield client


def test_agents_through_the_official_sdk(sdk: casedev.Casedev) -> None:
    created = sdk.agent.v1.agents.create(
        name="SDK agent", instructions="Help.", enabled_tools=["bash"], sandbox={"cpu": 1, "memory_mi_b": 512}
    )
    assert created.id and created.id.startswith("agent_")
    assert created.sandbox == {"cpu": 1, "memoryMiB": 512}
    fetched = sdk.agent.v1.agents.retrieve(created.id)
    assert fetched.name == "SDK agent"
    assert fetched.is_active is True
    updated = sdk.agent.v1.agents.update(created.id, description="now described", enabled_tools=None)
    assert updated.description == "now described"
    assert updated.enabled_tools is None
    listed = sdk.agent.v1.agents.list(limit=10)
    assert [agent.id for agent in listed.agents or []] == [created.id]
    assert listed.has_more is False
    assert sdk.agent.v1.agents.delete(created.id).ok is True


def test_runs_through_the_official_sdk(sdk: casedev.Casedev) -> None:
    agent = sdk.agent.v1.agents.create(name="SDK agent", instructions="Help.", model="offline/scripted")
    assert agent.id
    run = sdk.agent.v1.run.create(agent_id=agent.id, prompt="Say hello.", guidance="Briefly.", object_ids=["o1"])
    assert run.status == "queued"
    assert run.object_ids == ["o1"]
    assert run.id
    status = sdk.agent.v1.run.get_status(run.id)
    assert status.status == "queued"
    assert status.duration_ms is None
    details = sdk.agent.v1.run.get_details(run.id)
    assert details.prompt == "Say hello."
    assert details.guidance == "Briefly."
    assert details.steps == []
    assert details.usage is not None
    assert details.usage.summary is not None
    assert details.usage.summary.cost_micros == 0
    page = sdk.agent.v1.run.list(agent_id=agent.id, status="queued", limit=5)
    assert [listed.id for listed in page.runs or []] == [run.id]


def test_sdk_errors_map_to_its_exception_classes(sdk: casedev.Casedev) -> None:
    with pytest.raises(casedev.NotFoundError):
        sdk.agent.v1.agents.retrieve("agent_missing")
    with pytest.raises(casedev.BadRequestError):
        sdk.agent.v1.agents.create(name="", instructions="x")
    with pytest.raises(casedev.AuthenticationError):
        sdk.with_options(api_key="wrong").agent.v1.agents.list()
