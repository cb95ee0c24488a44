"""A workflow execution's journal: a replay gets each recorded result back, from JSON, without making its request
again."""

import asyncio
import json
import threading
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from pydantic_ai.exceptions import ToolFailedError, ToolRetryError
from pydantic_ai.messages import ModelResponse, RetryInfo, TextPart, ToolCallPart, ToolReturnPart
from sqlalchemy import select

from agentruns.agent.deps import RunDeps, ToolOutcome
from agentruns.engine.journal import Journal, ReplayedError
from agentruns.sandbox.egress.log import Connection, Taken
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

    async def unkeepable_output(self) -> Any:
        self.tools += 1
        return {"lock": threading.Lock()}  # JSON has no form for it


def _deps() -> RunDeps:
    return cast(RunDeps, SimpleNamespace(printed=[], network=None))  # `run_tool` reads its output and connections


async def _attempt(journal: Journal, calls: Calls, *, failing: Any) -> list[Any]:
    """One attempt at an execution: model, tool, failing tool, model; what each returned or raised."""
    call = ToolCallPart("bash", {"command": "true"})
    seen: list[Any] = [(await journal.model_request(calls.model)).parts[0]]
    outcome = await journal.tool_call(call, _deps(), calls.tool)
    seen.append(outcome.output)
    try:
        seen.append((await journal.tool_call(call, _deps(), failing)).output)
    except Exception as exc:  # a replay raises a ReplayedError named after the original's class
        seen.append(f"raised {type(exc).__name__}: {exc}")
    seen.append((await journal.model_request(calls.model)).parts[0])
    return seen


@pytest.fixture
def run_id(client: httpx.Client) -> str:
    return make_run(client, make_agent(client)["id"])["id"]


def test_a_replay_returns_every_recorded_result_and_makes_no_request_again(run_id: str, bridge: AsyncBridge) -> None:
    async def scenario() -> tuple[list[Any], list[Any], list[Any], list[str], Calls]:
        calls = Calls()
        first = Journal(run_id, 0)
        before = await _attempt(first, calls, failing=calls.failing_tool)
        async with bridge.db.write() as session:
            await insert_once(session, JournalEntry, first.take())
        replay = await Journal.load(bridge.db, run_id, 0)
        again = await _attempt(replay, calls, failing=calls.failing_tool)
        async with bridge.db.write() as session:  # a replay may write what it was given back: no error, no twin
            await insert_once(session, JournalEntry, first.take())
            stored = list(await session.scalars(
                select(JournalEntry.value).where(JournalEntry.run_id == run_id).order_by(JournalEntry.number)
            ))  # fmt: skip
        other_execution = await _attempt(await Journal.load(bridge.db, run_id, 1), calls, failing=calls.failing_tool)
        return before, again, other_execution, stored, calls

    before, again, other_execution, stored, calls = bridge.call(scenario)
    assert before == [TextPart("answer 1"), {"n": 1}, "raised ValueError: tool failed 2", TextPart("answer 2")]
    assert again == before
    # the next execution of the run (after a wait) has a journal of its own
    assert other_execution == [TextPart("answer 3"), {"n": 3}, "raised ValueError: tool failed 4", TextPart("answer 4")]
    assert (calls.models, calls.tools) == (4, 4)
    assert [next(iter(json.loads(value))) for value in stored] == ["response", "outcome", "raised", "response"]


def test_a_replay_raises_what_a_tool_raised_as_the_agent_loop_handles_it(run_id: str, bridge: AsyncBridge) -> None:
    failed = ToolFailedError(ToolReturnPart("read", "'a.txt' does not exist", "call-1", outcome="failed"))
    retry = ToolRetryError(ToolReturnPart("read", "try another path", "call-2", outcome="retried",
                                          retry=RetryInfo("model_retry", attempt=1, max_retries=2)))  # fmt: skip

    async def scenario() -> tuple[list[Exception], list[Exception]]:
        first, raised = Journal(run_id, 0), list[Exception]()
        for error in (failed, retry, OSError(2, "gone")):

            async def fails(error: Exception = error) -> Any:
                raise error

            with pytest.raises(Exception) as info:  # noqa: PT011  # each is checked below
                await first.tool_call(ToolCallPart("read", {"path": "a.txt"}), _deps(), fails)
            raised.append(info.value)
        async with bridge.db.write() as session:
            await insert_once(session, JournalEntry, first.take())
        replay, replayed = await Journal.load(bridge.db, run_id, 0), list[Exception]()
        for _ in raised:
            with pytest.raises(Exception) as info:  # noqa: PT011
                await replay.tool_call(ToolCallPart("read", {"path": "a.txt"}), _deps(), Calls().tool)
            replayed.append(info.value)
        return raised, replayed

    raised, replayed = bridge.call(scenario)
    tool_failed, tool_retry, other = replayed
    assert isinstance(tool_failed, ToolFailedError) and tool_failed.tool_failed == failed.tool_failed
    assert isinstance(tool_retry, ToolRetryError) and tool_retry.tool_retry == retry.tool_retry
    # Any other class is not rebuilt: its replay is a ReplayedError that reads as the original did.
    assert isinstance(other, ReplayedError) and not isinstance(other, OSError)
    assert [(type(error).__name__, str(error)) for error in replayed] == [
        (type(error).__name__, str(error)) for error in raised
    ]


def test_a_tool_outcome_comes_back_with_its_connections(run_id: str, bridge: AsyncBridge) -> None:
    connection = Connection("example.com", 443, allowed=False, via="proxy", method="CONNECT", reason="not allowed")
    network = cast(Any, SimpleNamespace(log=SimpleNamespace(take=lambda: _taken(Taken((connection,), 3)))))

    async def scenario() -> tuple[ToolOutcome, ToolOutcome]:
        first = Journal(run_id, 0)
        deps = cast(RunDeps, SimpleNamespace(printed=[], network=network))
        outcome = await first.tool_call(ToolCallPart("bash", {}), deps, Calls().tool)
        async with bridge.db.write() as session:
            await insert_once(session, JournalEntry, first.take())
        replay = await Journal.load(bridge.db, run_id, 0)
        return outcome, await replay.tool_call(ToolCallPart("bash", {}), deps, Calls().tool)

    outcome, replayed = bridge.call(scenario)
    assert replayed == outcome
    assert replayed.network.connections == (connection,) and replayed.network.not_recorded == 3


async def _taken(taken: Taken) -> Taken:
    return taken


def test_a_result_that_cannot_be_kept_is_made_again_on_a_replay(run_id: str, bridge: AsyncBridge) -> None:
    async def scenario() -> tuple[list[Any], list[Any], int, Calls]:
        calls = Calls()
        first = Journal(run_id, 0)
        before = await _attempt(first, calls, failing=calls.unkeepable_output)
        rows = first.take()
        async with bridge.db.write() as session:
            await insert_once(session, JournalEntry, rows)
        again = await _attempt(await Journal.load(bridge.db, run_id, 0), calls, failing=calls.unkeepable_output)
        return before, again, len(rows), calls

    before, again, kept, calls = bridge.call(scenario)
    assert before[:2] + before[3:] == again[:2] + again[3:] == [TextPart("answer 1"), {"n": 1}, TextPart("answer 2")]
    assert "lock" in before[2] and "lock" in again[2]
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
