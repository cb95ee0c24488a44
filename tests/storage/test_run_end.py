"""The end of a run alone (no parent, no children), recorded in one Core transaction with what follows it, and
declined, writing nothing, for any other run."""

from typing import Any

import httpx
from dbos import error as dbos_error
from sqlalchemy import select, update

from agentruns import clock
from agentruns.storage.models import Agent, Run, RunEvent, RunLog, WebhookDelivery
from agentruns.storage.queries import owners, run_end, run_states
from tests.support.factories import make_agent, make_run
from tests.support.portal import AsyncBridge, async_bridge
from tests.support.workflows import set_workflow, start_run


def _ending(run_id: str, values: dict[str, Any], **runtime: Any) -> run_end.Ending:
    log = {"run_id": run_id, "stream": "runner", "number": 1, "text": "completed\n", "timestamp": clock.now()}
    return run_end.Ending(run_id, values, runtime=runtime, logs=[log])


async def _after(bridge: AsyncBridge, run_id: str) -> dict[str, Any]:
    async with bridge.db.read() as session:
        run = (await session.execute(select(Run).where(Run.id == run_id))).scalar_one()
        agent = (await session.execute(select(Agent).where(Agent.id == run.agent_id))).scalar_one()
        last = await session.scalar(select(RunEvent).where(RunEvent.run_id == run_id).order_by(RunEvent.seq.desc()))
        deliveries = (await session.scalars(select(WebhookDelivery).where(WebhookDelivery.run_id == run_id))).all()
        logs = (await session.scalars(select(RunLog.text).where(RunLog.run_id == run_id))).all()
    assert last is not None
    return {
        "run": (run.status, run.output, run.summary, run.error_code, run.runtime_state),
        "agent active": agent.is_active,
        "last event": (last.name, last.data.get("output"), last.data.get("error")),
        "deliveries": [(delivery.event_type, delivery.payload["data"]["status"]) for delivery in deliveries],
        "logs": list(logs),
    }


def test_a_run_alone_ends_with_what_follows_in_one_transaction(fresh: tuple[str, httpx.Client]) -> None:
    url, client = fresh  # a database of its own: no worker takes the run `execute` queues
    with async_bridge(url) as bridge:
        _a_run_alone_ends_with_what_follows(client, bridge)


def _a_run_alone_ends_with_what_follows(client: httpx.Client, bridge: AsyncBridge) -> None:
    executed = client.post("/agent/v1/execute", json={"model": "offline/scripted", "prompt": "reply hi"}).json()
    watched = make_run(client, make_agent(client)["id"], callbackUrl="https://example.com/hook")["id"]
    for run_id in (executed["runId"], watched):
        bridge.call(start_run, bridge.db, run_id)

    ended = bridge.call(run_end.end_alone, bridge.db, _ending(executed["runId"], run_states.completed(clock.now(),
                                                                                                    "hi")))  # fmt: skip
    failed = run_states.failed(clock.now(), "TIMEOUT", "too long", timed_out=True)
    timed_out = bridge.call(run_end.end_alone, bridge.db, _ending(watched, failed, runtime_state="archived"))

    assert (ended, timed_out) == (True, True)
    assert bridge.call(_after, bridge, executed["runId"]) == {
        "run": ("completed", "hi", "hi", None, None),  # no sandbox fields given: none set
        "agent active": False,  # the ephemeral agent `execute` made is retired with its run
        "last event": ("run.completed", "hi", None),
        "deliveries": [],
        "logs": ["completed\n"],
    }
    assert bridge.call(_after, bridge, watched) == {
        "run": ("timeout", None, None, "TIMEOUT", "archived"),
        "agent active": True,  # an agent of the API stays
        "last event": ("run.timeout", None, {"code": "TIMEOUT", "message": "too long"}),
        "deliveries": [("agent.run.timeout", "timeout")],
        "logs": ["completed\n"],
    }
    shown = client.get(f"/agent/v1/run/{watched}").json()
    announced = bridge.call(_last_event_data, bridge, watched)
    assert {key: announced[key] for key in ("id", "status", "startedAt", "completedAt")} == {
        key: shown[key] for key in ("id", "status", "startedAt", "completedAt")
    }


async def _last_event_data(bridge: AsyncBridge, run_id: str) -> Any:
    async with bridge.db.read() as session:
        query = select(RunEvent.data).where(RunEvent.run_id == run_id).order_by(RunEvent.seq.desc()).limit(1)
        return await session.scalar(query)


def test_a_run_with_a_parent_or_children_or_an_ended_one_is_declined_and_nothing_written(
    client: httpx.Client, bridge: AsyncBridge
) -> None:
    agent_id = make_agent(client)["id"]
    parent, child, cancelled = (make_run(client, agent_id)["id"] for _ in range(3))

    async def adopt() -> None:
        async with bridge.db.write() as session:
            await session.execute(update(Run).where(Run.id == child).values(parent_run_id=parent, depth=1))

    bridge.call(adopt)
    for run_id in (parent, child, cancelled):
        bridge.call(start_run, bridge.db, run_id)
    assert client.post(f"/agent/v1/run/{cancelled}/cancel").status_code == 200
    before = {run_id: bridge.call(_after, bridge, run_id) for run_id in (parent, child, cancelled)}

    for run_id in (parent, child, cancelled):
        ending = _ending(run_id, run_states.completed(clock.now(), "done"), runtime_state="archived")
        assert bridge.call(run_end.end_alone, bridge.db, ending) is False, run_id

    assert {run_id: bridge.call(_after, bridge, run_id) for run_id in (parent, child, cancelled)} == before
    assert before[parent]["run"][0] == before[child]["run"][0] == "running"


def test_an_end_is_recorded_only_while_its_execution_owns_the_workflow(fresh: tuple[str, httpx.Client]) -> None:
    url, client = fresh  # a database of its own: no worker takes the workflow the exec queues
    with async_bridge(url) as bridge:
        _an_end_is_recorded_only_while_its_execution_owns_the_workflow(client, bridge)


def _an_end_is_recorded_only_while_its_execution_owns_the_workflow(client: httpx.Client, bridge: AsyncBridge) -> None:
    run_id = make_run(client, make_agent(client)["id"])["id"]
    workflow_id = client.post(f"/agent/v1/run/{run_id}/exec").json()["workflowId"]
    set_workflow(bridge, workflow_id, "PENDING", "the new owner")
    bridge.call(start_run, bridge.db, run_id)
    before = bridge.call(_after, bridge, run_id)

    def end(token: str) -> bool | None:
        ending = _ending(run_id, run_states.completed(clock.now(), "done"))
        owned = run_end.Ending(run_id, ending.values, runtime={}, logs=ending.logs,
                               owner=owners.Owner(workflow_id, token))  # fmt: skip
        return bridge.call(_end_unless_refused, bridge, owned)

    assert end("a superseded owner") is None
    assert bridge.call(_after, bridge, run_id) == before
    assert end("the new owner") is True
    assert bridge.call(_after, bridge, run_id)["run"][0] == "completed"


async def _end_unless_refused(bridge: AsyncBridge, ending: run_end.Ending) -> bool | None:
    """`end_alone`'s answer; None if it was refused (a BaseException, which must not cross the test's portal)."""
    try:
        return await run_end.end_alone(bridge.db, ending)
    except dbos_error.DBOSWorkflowConflictIDError:
        return None
