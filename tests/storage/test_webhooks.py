"""Scheduling webhook deliveries wakes this process's sender once the transaction commits, and nothing else does."""

import httpx

from agentruns import clock
from agentruns.events.hub import HUB
from agentruns.ids import new_id
from agentruns.storage.models import RunWatcher
from agentruns.storage.queries import events, run_states
from agentruns.storage.queries.events import EventDraft
from tests.support.factories import make_agent, make_run
from tests.support.portal import async_bridge


def test_the_sender_is_woken_by_a_committed_run_end_with_watchers_not_by_other_events(
    fresh: tuple[str, httpx.Client],
) -> None:
    url, client = fresh
    run_id = make_run(client, make_agent(client)["id"])["id"]

    async def scenario() -> tuple[bool, bool, bool]:
        with HUB.subscribe_deliveries() as doorbell:
            async with bridge.db.write() as session:
                session.add(RunWatcher(id=new_id("wh"), run_id=run_id, url="https://example.com/hook",
                                       created_at=clock.now()))  # fmt: skip
                await events.append(session, run_id, [EventDraft("x", {"n": 1}, "item:1")])
            after_an_event = await doorbell.wait(0.2)
            async with bridge.db.write() as session:
                ended = await run_states.fail(session, run_id, clock.now(), "INTERNAL_ERROR", "ended by the test",
                                              timed_out=False)  # fmt: skip
            return after_an_event, ended is not None, await doorbell.wait(10)

    with async_bridge(url) as bridge:
        assert bridge.call(scenario) == (False, True, True)
