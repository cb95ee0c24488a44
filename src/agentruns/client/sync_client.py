"""`Client`: the blocking agentruns client, on httpx."""

import time
from collections.abc import Generator
from types import TracebackType
from typing import Self, TypeVar, Unpack

import httpx
from httpx_sse import connect_sse
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


class Client:
    """A client of one agentruns server; use it as a context manager, or call `close()`.

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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        resolved = connection(base_url, api_key)
        self.base_url = resolved.base_url
        self.retry = retry or RetryPolicy()
        self.http = httpx.Client(
            base_url=resolved.base_url, headers=resolved.headers, timeout=timeout, transport=transport
        )
        self.agents = Agents(self)
        self.runs = Runs(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self.http.close()

    def send(self, call: Call[Answer]) -> Answer:
        """Send one request, retrying as the policy says; raise the error class of a failure."""
        attempt = 0
        while True:
            try:
                response = self.http.request(call.method, call.path, params=call.params, json=call.body)
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
            time.sleep(delay)

    def health(self) -> Health:
        """The server's health (needs no key, but the client sends it anyway)."""
        return self.send(calls.health())

    def signing_secret(self, *, rotate: bool = False) -> SigningSecret:
        """The organization's webhook signing secret; `rotate` replaces it (the old one signs for a day more)."""
        return self.send(calls.signing_secret(rotate=rotate))

    def execute(self, prompt: str, **options: Unpack[ExecuteOptions]) -> Executed:
        """Run a prompt at once on an ephemeral agent (`POST /agent/v1/execute`)."""
        return self.send(calls.execute(prompt, options))


class Agents:
    """`client.agents`: create, list, get, update and delete agents."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, name: str, instructions: str, **options: Unpack[AgentOptions]) -> AgentOut:
        """Create an agent."""
        return self._client.send(calls.create_agent(name, instructions, options))

    def list(self, *, cursor: str | None = None, limit: int | None = None) -> AgentPage:
        """One page of active agents, newest first."""
        return self._client.send(calls.list_agents(cursor, limit))

    def iterate(self, *, limit: int | None = None) -> Generator[AgentListItem]:
        """Every active agent, newest first, fetching pages of `limit` as needed."""
        cursor: str | None = None
        while True:
            page = self.list(cursor=cursor, limit=limit)
            yield from page.agents
            if not page.has_more or page.next_cursor is None:
                return
            cursor = page.next_cursor

    def get(self, agent_id: str) -> AgentOut:
        """One agent; a deleted one answers with `is_active` false."""
        return self._client.send(calls.get_agent(agent_id))

    def update(self, agent_id: str, **changes: Unpack[AgentChanges]) -> AgentOut:
        """Change the fields given; `None` clears a clearable field."""
        return self._client.send(calls.update_agent(agent_id, changes))

    def delete(self, agent_id: str) -> Deleted:
        """Soft-delete an agent."""
        return self._client.send(calls.delete_agent(agent_id))


class Runs:
    """`client.runs`: create, execute, follow and cancel runs."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, agent_id: str, prompt: str, **options: Unpack[RunOptions]) -> RunCreated:
        """Queue a run of an agent; `exec` starts it."""
        return self._client.send(calls.create_run(agent_id, prompt, options))

    def list(
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
        return self._client.send(calls.list_runs(agent_id, status, cursor, limit, parent_run_id, metadata))

    def iterate(
        self, *, agent_id: str | None = None, status: RunStatus | str | None = None, limit: int | None = None
    ) -> Generator[RunListItem]:
        """Every run (of an agent, in a status), newest first, fetching pages of `limit` as needed."""
        cursor: str | None = None
        while True:
            page = self.list(agent_id=agent_id, status=status, cursor=cursor, limit=limit)
            yield from page.runs
            if not page.has_more or page.next_cursor is None:
                return
            cursor = page.next_cursor

    def exec(self, run_id: str) -> RunExecuted:
        """Start a queued run; a second exec raises `ConflictError`."""
        return self._client.send(calls.exec_run(run_id))

    def status(self, run_id: str) -> RunStatusOut:
        """The run's status and timing."""
        return self._client.send(calls.run_status(run_id))

    def details(self, run_id: str) -> RunDetails:
        """The run's whole audit trail."""
        return self._client.send(calls.run_details(run_id))

    def cancel(self, run_id: str) -> RunCancelled:
        """Cancel a queued, running or waiting run; a finished run answers its status and a message."""
        return self._client.send(calls.cancel_run(run_id))

    def files(self, run_id: str) -> WorkspaceListing:
        """What the run's workspace holds."""
        return self._client.send(calls.list_files(run_id))

    def download(self, run_id: str, path: str) -> bytes:
        """One file of the run's workspace (`path` relative to /workspace)."""
        return self._client.send(calls.download_file(run_id, path))

    def webhooks(self, run_id: str) -> RunWebhooks:
        """The run's watchers, each with its delivery's attempts."""
        return self._client.send(calls.run_webhooks(run_id))

    def watch(self, run_id: str, callback_url: str) -> Watching:
        """Have the server POST to `callback_url` when the run ends."""
        return self._client.send(calls.watch_run(run_id, callback_url))

    def input(self, run_id: str, answer: str) -> InputAccepted:
        """Answer a waiting run's question; the run resumes."""
        return self._client.send(calls.answer_run(run_id, answer))

    def wait(
        self, run_id: str, *, timeout: float | None = None, poll_interval: float = 0.25, max_poll_interval: float = 5.0
    ) -> RunStatusOut:
        """Poll the run's status, less often as time goes by, until it has ended or waits for an answer.

        Raises:
            WaitTimeoutError: `timeout` seconds passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = poll_interval
        while True:
            status = self.status(run_id)
            if is_settled(status.status):
                return status
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeoutError(run_id, status.status, timeout or 0)
                delay = min(delay, remaining)
            time.sleep(delay)
            delay = next_poll_delay(delay, max_poll_interval)

    def stream(self, run_id: str, *, last_event_id: int | None = None) -> Generator[RunEvent]:
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
                with connect_sse(self._client.http, "GET", path, headers=tracker.headers()) as source:
                    if source.response.status_code != 200:
                        source.response.read()
                        refusal = source.response
                    else:
                        check_event_stream(source.response)
                        opened = True
                        for sse in source.iter_sse():
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
            time.sleep(delay)
