"""A workflow execution's journal: a replay gets each recorded result back without making its request again."""

import asyncio
import threading
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart

from agentruns.agent.deps import RunDeps
from agentruns.engine.journal import Journal
from agentruns.storage.models import JournalEntry
from agentruns.storage.queries.inserts import insert_once
from tests.support.factories import make_agent, make_run
from tests.support.portal import AsyncBridge


class Calls:
    """Counts what a journal really asked of the model and of the tools."""

    def __init__(self) -> None:
        self.models = 0
        self.tools = 0

    async def model(self) -> ModelResponse:
        self.models += 1
        return ModelResponse(parts=[TextPart(f"answer {self.models}")])

    async def tool(self) -> Any:
        self.tools += 1
        return {"n": self.tools}

    async def failing_tool(self) -> Any:
        self.tools += 1
        raise ValueError(f"tool failed {self.tools}")

    async def unpicklable_failure(self) -> Any:
        self.tools += 1
        raise ValueError(threading.Lock())


def _deps() -> RunDeps:
    return cast(RunDeps, SimpleNamespace(printed=[], network=None))  # `run_tool` reads its output and connections


async def _attempt(journal: Journal, calls: Calls, *, failing: Any) -> list[Any]:
    """One attempt at an execution: model, tool, failing tool, model; what each returned or raised."""
    call = ToolCallPart("bash", {"command": "true"})
    seen: list[Any] = [(await journal.model_request(calls.model)).parts[0]]
    outcome = await journal.tool_call(call, _deps(), calls.tool)
    seen.append(outcome.output)
    try:
        await journal.tool_call(call, _deps(), failing)
    except ValueError as exc:
        seen.append(f"raised: {exc}" if isinstance(exc.args[0], str) else "raised unpicklable")
    seen.append((await journal.model_request(calls.model)).parts[0])
    return seen


@pytest.fixture
def run_id(client: httpx.Client) -> str:
    return make_run(client, make_agent(client)["id"])["id"]


def test_a_replay_returns_every_recorded_result_and_makes_no_request_again(run_id: str, bridge: AsyncBridge) -> None:
    async def scenario() -> tuple[list[Any], list[Any], list[Any], Calls]:
        calls = Calls()
        first = Journal(run_id, 0)
        before = await _attempt(first, calls, failing=calls.failing_tool)
        async with bridge.db.write() as session:
            await insert_once(session, JournalEntry, first.take())
        replay = await Journal.load(bridge.db, run_id, 0)
        again = await _attempt(replay, calls, failing=calls.failing_tool)
        async with bridge.db.write() as session:  # a replay may write what it was given back: no error, no twin
            await insert_once(session, JournalEntry, first.take())
        other_execution = await _attempt(await Journal.load(bridge.db, run_id, 1), calls, failing=calls.failing_tool)
        return before, again, other_execution, calls

    before, again, other_execution, calls = bridge.call(scenario)
    assert before == [TextPart("answer 1"), {"n": 1}, "raised: tool failed 2", TextPart("answer 2")]
    assert again == before
    # the next execution of the run (after a wait) has a journal of its own
    assert other_execution == [TextPart("answer 3"), {"n": 3}, "raised: tool failed 4", TextPart("answer 4")]
    assert (calls.models, calls.tools) == (4, 4)


def test_a_result_that_cannot_be_kept_is_made_again_on_a_replay(run_id: str, bridge: AsyncBridge) -> None:
    async def scenario() -> tuple[list[Any], list[Any], int, Calls]:
        calls = Calls()
        first = Journal(run_id, 0)
        before = await _attempt(first, calls, failing=calls.unpicklable_failure)
        rows = first.take()
        async with bridge.db.write() as session:
            await insert_once(session, JournalEntry, rows)
        again = await _attempt(await Journal.load(bridge.db, run_id, 0), calls, failing=calls.unpicklable_failure)
        return before, again, len(rows), calls

    before, again, kept, calls = bridge.call(scenario)
    assert before == again == [TextPart("answer 1"), {"n": 1}, "raised unpicklable", TextPart("answer 2")]
    assert kept == 3
    assert (calls.models, calls.tools) == (2, 3)  # only the unkept call ran twice


def test_pending_results_are_taken_once(run_id: str) -> None:
    async def scenario() -> tuple[int, int]:
        journal = Journal(run_id, 0)
        await journal.tool_call(ToolCallPart("bash", {}), _deps(), Calls().tool)
        return len(journal.take()), len(journal.take())

    assert asyncio.run(scenario()) == (1, 0)


def test_the_start_is_kept_apart_from_the_results_and_returned_on_a_replay(run_id: str, bridge: AsyncBridge) -> None:
    async def scenario() -> tuple[Any, Any, ModelResponse, ModelResponse, Calls]:
        calls = Calls()
        first = Journal(run_id, 0)
        before = first.recorded_start()
        first.keep_start({"started": "snapshot"})
        answer = await first.model_request(calls.model)
        async with bridge.db.write() as session:
            await insert_once(session, JournalEntry, first.take())
        replay = await Journal.load(bridge.db, run_id, 0)
        return before, replay.recorded_start(), answer, await replay.model_request(calls.model), calls

    before, replayed_start, answer, replayed_answer, calls = bridge.call(scenario)
    assert before is None
    assert replayed_start == {"started": "snapshot"}
    assert replayed_answer == answer
    assert calls.models == 1
