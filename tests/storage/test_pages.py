"""Property tests of cursor paging and filters: every run once, in order, whatever the page size."""

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from agentruns.schemas.agents import AgentCreate
from agentruns.schemas.runs import RunCreate, RunStatus
from agentruns.services import agents, runs
from agentruns.services.auth import issue_key
from agentruns.storage.models import Run
from tests.support.portal import AsyncBridge

_orgs = itertools.count()


async def _seed(bridge: AsyncBridge, statuses: list[tuple[int, RunStatus]]) -> tuple[str, list[str], list[dict]]:
    org = (await issue_key(bridge.db, f"paging-{next(_orgs)}")).org_id
    agent_ids = [
        (await agents.create_agent(bridge.db, org, AgentCreate(name=f"a{i}", instructions="x"))).id for i in range(2)
    ]
    created: list[dict] = []
    for agent_index, status in statuses:
        run = await runs.create_run(bridge.db, org, RunCreate(agent_id=agent_ids[agent_index], prompt="p"))
        async with bridge.db.write() as session:
            await session.execute(update(Run).where(Run.id == run.id).values(status=status))
        created.append({"id": run.id, "agent": agent_ids[agent_index], "status": status})
    return org, agent_ids, created


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    statuses=st.lists(st.tuples(st.integers(0, 1), st.sampled_from(list(RunStatus))), max_size=25),
    limit=st.integers(1, 8),
    agent_filter=st.sampled_from([None, 0, 1]),
    status_filter=st.sampled_from([None, *RunStatus]),
    created_between_pages=st.integers(0, 2),
)
def test_paging_lists_each_matching_run_once_newest_first(
    bridge: AsyncBridge,
    statuses: list[tuple[int, RunStatus]],
    limit: int,
    agent_filter: int | None,
    status_filter: RunStatus | None,
    created_between_pages: int,
) -> None:
    org, agent_ids, created = bridge.call(_seed, bridge, statuses)
    agent_id = None if agent_filter is None else agent_ids[agent_filter]
    expected = [
        run["id"]
        for run in reversed(created)
        if (agent_id is None or run["agent"] == agent_id) and (status_filter is None or run["status"] == status_filter)
    ]
    listed: list[str] = []
    cursor = None
    while True:
        page = bridge.call(runs.list_runs, bridge.db, org, agent_id=agent_id, status=status_filter, cursor=cursor,
                           limit=limit)  # fmt: skip
        listed += [run.id for run in page.runs]
        if not page.has_more:
            assert page.next_cursor is None
            assert len(page.runs) <= limit
            break
        assert len(page.runs) == limit
        cursor = page.next_cursor
        for _ in range(created_between_pages):  # newer runs never enter pages after the first
            bridge.call(runs.create_run, bridge.db, org, RunCreate(agent_id=agent_ids[0], prompt="late"))
    assert listed == expected
