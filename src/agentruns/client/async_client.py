"""`AsyncClient`: the asyncio (and trio) agentruns client, on httpx."""

import time
from collections.abc import AsyncGenerator
from types import TracebackType
from typing import Self, TypeVar, Unpack

import anyio
import httpx
from httpx_sse import aconnect_sse
from pydantic import BaseModel

from agentruns.client import calls
from agentruns.client.calls import AgentChanges, AgentOptions, Call, ExecuteOptions, RunOptions
from agentruns.client.config import connection, is_settled, next_poll_delay
from agentruns.client.errors import APIConnectionError, WaitTimeoutError, error_from_response
from agentruns.client.events import EventTracker, check_event_stream
from agentruns.client.models import (
    AgentListItem,
    AgentOut,
    AgentPage,
    Deleted,
    Executed,
    Health,
    InputAccepted,
    RunCancelled,
    RunCreated,
    RunDetails,
    RunEvent,
    RunExecuted,
    RunListItem,
    RunPage,
    RunStatus,
    RunStatusOut,
    RunWebhooks,
    SigningSecret,
    Watching,
    WorkspaceListing,
)
from agentruns.client.retries import RETRIED_TRANSPORT_ERRORS, RetryPolicy

Answer = TypeVar("Answer", bound=BaseModel | bytes)


class AsyncClient:
    """An async client of one agentruns server; use it as an async context manager, or await `close()`.

    Args:
        base_url: the server, such as `http://127.0.0.1:2728`; default `AGENTRUNS_URL`, else that one.
        api_key: the key; default `AGENTRUNS_API_KEY`.
        timeout: seconds for connecting and for each read (an event stream's keep-alives reset it).
        retry: when to retry (429, 5xx, broken connections) and how long to wait.
        transport: an httpx transport, for proxies or tests.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        resolved = connection(base_url, api_key)
        self.base_url = resolved.base_url
        self.retry = retry or RetryPolicy()
        self.http = httpx.AsyncClient(
            base_url=resolved.base_url, headers=resolved.headers, timeout=timeout, transport=transport
        )
        self.agents = AsyncAgents(self)
        self.runs = AsyncRuns(self)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connections."""
        await self.http.aclose()

    async def send(self, call: Call[Answer]) -> Answer:
        """Send one request, retrying as the policy says; raise the error class of a failure."""
        attempt = 0
        while True:
            try:
                response = await self.http.request(call.method, call.path, params=call.params, json=call.body)
            except RETRIED_TRANSPORT_ERRORS as exc:
                delay = self.retry.delay_after(attempt, None)
                if delay is None:
                    raise APIConnectionError(f"{call.method} {self.base_url}{call.path} failed: {exc!r}") from exc
            except httpx.TransportError as exc:
                raise APIConnectionError(f"{call.method} {self.base_url}{call.path} failed: {exc!r}") from exc
            else:
                if response.is_success:
                    return call.parse(response)
                delay = self.retry.delay_after(attempt, response)
                if delay is None:
                    raise error_from_response(response)
            attempt += 1
            await anyio.sleep(delay)

    async def health(self) -> Health:
        """The server's health (needs no key, but the client sends it anyway)."""
        return await self.send(calls.health())

    async def signing_secret(self, *, rotate: bool = False) -> SigningSecret:
        """The organization's webhook signing secret; `rotate` replaces it (the old one signs for a day more)."""
        return await self.send(calls.signing_secret(rotate=rotate))

    async def execute(self, prompt: str, **options: Unpack[ExecuteOptions]) -> Executed:
        """Run a prompt at once on an ephemeral agent (`POST /agent/v1/execute`)."""
        return await self.send(calls.execute(prompt, options))


class AsyncAgents:
    """`client.agents`: create, list, get, update and delete agents."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(self, name: str, instructions: str, **options: Unpack[AgentOptions]) -> AgentOut:
        """Create an agent."""
        return await self._client.send(calls.create_agent(name, instructions, options))

    async def list(self, *, cursor: str | None = None, limit: int | None = None) -> AgentPage:
        """One page of active agents, newest first."""
        return await self._client.send(calls.list_agents(cursor, limit))

    async def iterate(self, *, limit: int | None = None) -> AsyncGenerator[AgentListItem]:
        """Every active agent, newest first, fetching pages of `limit` as needed."""
        cursor: str | None = None
        while True:
            page = await self.list(cursor=cursor, limit=limit)
            for agent in page.agents:
                yield agent
            if not page.has_more or page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def get(self, agent_id: str) -> AgentOut:
        """One agent; a deleted one answers with `is_active` false."""
        return await self._client.send(calls.get_agent(agent_id))

    async def update(self, agent_id: str, **changes: Unpack[AgentChanges]) -> AgentOut:
        """Change the fields given; `None` clears a clearable field."""
        return await self._client.send(calls.update_agent(agent_id, changes))

    async def delete(self, agent_id: str) -> Deleted:
        """Soft-delete an agent."""
        return await self._client.send(calls.delete_agent(agent_id))


class AsyncRuns:
    """`client.runs`: create, execute, follow and cancel runs."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(self, agent_id: str, prompt: str, **options: Unpack[RunOptions]) -> RunCreated:
        """Queue a run of an agent; `exec` starts it."""
        return await self._client.send(calls.create_run(agent_id, prompt, options))

    async def list(
        self,
        *,
        agent_id: str | None = None,
        status: RunStatus | str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
        parent_run_id: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> RunPage:
        """One page of runs, newest first (of an agent, in a status, children of a run, with metadata pairs)."""
        return await self._client.send(calls.list_runs(agent_id, status, cursor, limit, parent_run_id, metadata))

    async def iterate(
        self, *, agent_id: str | None = None, status: RunStatus | str | None = None, limit: int | None = None
    ) -> AsyncGenerator[RunListItem]:
        """Every run (of an agent, in a status), newest first, fetching pages of `limit` as needed."""
        cursor: str | None = None
        while True:
            page = await self.list(agent_id=agent_id, status=status, cursor=cursor, limit=limit)
            for run in page.runs:
                yield run
            if not page.has_more or page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def exec(self, run_id: str) -> RunExecuted:
        """Start a queued run; a second exec raises `ConflictError`."""
        return await self._client.send(calls.exec_run(run_id))

    async def status(self, run_id: str) -> RunStatusOut:
        """The run's status and timing."""
        return await self._client.send(calls.run_status(run_id))

    async def details(self, run_id: str) -> RunDetails:
        """The run's whole audit trail."""
        return await self._client.send(calls.run_details(run_id))

    async def cancel(self, run_id: str) -> RunCancelled:
        """Cancel a queued, running or waiting run; a finished run answers its status and a message."""
        return await self._client.send(calls.cancel_run(run_id))

    async def files(self, run_id: str) -> WorkspaceListing:
        """What the run's workspace holds."""
        return await self._client.send(calls.list_files(run_id))

    async def download(self, run_id: str, path: str) -> bytes:
        """One file of the run's workspace (`path` relative to /workspace)."""
        return await self._client.send(calls.download_file(run_id, path))

    async def webhooks(self, run_id: str) -> RunWebhooks:
        """The run's watchers, each with its delivery's attempts."""
        return await self._client.send(calls.run_webhooks(run_id))

    async def watch(self, run_id: str, callback_url: str) -> Watching:
        """Have the server POST to `callback_url` when the run ends."""
        return await self._client.send(calls.watch_run(run_id, callback_url))

    async def input(self, run_id: str, answer: str) -> InputAccepted:
        """Answer a waiting run's question; the run resumes."""
        return await self._client.send(calls.answer_run(run_id, answer))

    async def wait(
        self,
        run_id: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - as in `Client`, and the error names the last status
        poll_interval: float = 0.25,
        max_poll_interval: float = 5.0,
    ) -> RunStatusOut:
        """Poll the run's status, less often as time goes by, until it has ended or waits for an answer.

        Raises:
            WaitTimeoutError: `timeout` seconds passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = poll_interval
        while True:
            status = await self.status(run_id)
            if is_settled(status.status):
                return status
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeoutError(run_id, status.status, timeout or 0)
                delay = min(delay, remaining)
            await anyio.sleep(delay)
            delay = next_poll_delay(delay, max_poll_interval)

    async def stream(self, run_id: str, *, last_event_id: int | None = None) -> AsyncGenerator[RunEvent]:
        """The run's events as they happen, each once, until its terminal event.

        A dropped connection is opened again with `Last-Event-ID`, so nothing is lost or repeated. Start
        with `last_event_id` to skip the events up to it.
        """
        tracker = EventTracker(self._client.retry, last_event_id)
        path = calls.events_path(run_id)
        while True:
            refusal: httpx.Response | None = None
            opened = False
            broken: Exception | None = None
            try:
                async with aconnect_sse(self._client.http, "GET", path, headers=tracker.headers()) as source:
                    if source.response.status_code != 200:
                        await source.response.aread()
                        refusal = source.response
                    else:
                        check_event_stream(source.response)
                        opened = True
                        async for sse in source.aiter_sse():
                            event = tracker.accept(sse)
                            if event is not None:
                                yield event
                            if tracker.finished:
                                return
            except RETRIED_TRANSPORT_ERRORS as exc:
                broken = exc
            except httpx.TransportError as exc:
                raise APIConnectionError(f"GET {self._client.base_url}{path} failed: {exc!r}") from exc
            delay = tracker.delay_before_reconnect(refusal, opened=opened)
            if delay is None:
                if refusal is not None:
                    raise error_from_response(refusal)
                raise APIConnectionError(f"the event stream of run {run_id} keeps breaking: {broken!r}") from broken
            await anyio.sleep(delay)
