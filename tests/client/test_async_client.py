"""`AsyncClient` against the real server: the same endpoints, awaited."""

import pytest

from agentruns.client import AsyncClient, ConflictError, InvalidInputError, RunStatus

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_agents_and_runs_through_the_async_client(base_url: str, api_key: str) -> None:
    async with AsyncClient(base_url, api_key) as sdk:
        agents = [await sdk.agents.create(f"agent {n}", "Help.", model="offline/scripted") for n in range(3)]
        assert [agent.id async for agent in sdk.agents.iterate(limit=2)] == [agent.id for agent in reversed(agents)]
        updated = await sdk.agents.update(agents[0].id, description="described")
        assert updated.description == "described"
        assert (await sdk.agents.get(agents[0].id)).description == "described"
        run = await sdk.runs.create(agents[0].id, "Do it.")
        assert (await sdk.runs.status(run.id)).status == RunStatus.QUEUED
        assert [listed.id async for listed in sdk.runs.iterate(agent_id=agents[0].id)] == [run.id]
        assert (await sdk.runs.list(agent_id=agents[0].id)).runs[0].id == run.id
        assert (await sdk.runs.details(run.id)).prompt == "Do it."
        assert (await sdk.runs.cancel(run.id)).status == RunStatus.CANCELLED
        assert (await sdk.runs.wait(run.id)).status == RunStatus.CANCELLED
        with pytest.raises(ConflictError):
            await sdk.runs.exec(run.id)
        with pytest.raises(InvalidInputError):
            await sdk.agents.create("x", "y", model="no-such-provider/model")
        assert (await sdk.execute("Say hello.", model="offline/scripted")).status == RunStatus.RUNNING
        assert (await sdk.agents.delete(agents[1].id)).ok is True
        assert (await sdk.health()).status == "ok"
