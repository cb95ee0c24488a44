"""(a) Fan-out: many SSE subscribers on one run of one API process, and the delay from an event's write to each.

The subscribers run in a subprocess of their own (`bench.sse_clients`). The benchmark writes one event at a
time through the storage layer (`storage.queries.events.append`, as a worker's recorder does), notes the
time just before the write's transaction, waits until every subscriber has the event, pauses, and writes
the next: each event's delays are those of one fan-out, not of a queue of them.

Two ways to serve the run (`Setup`): the writer in the API process (the embedded `agentruns serve`, where a
commit wakes the streams directly: an in-process uvicorn, `tests/support/servers.py`), or in another process
(a fleet: a real `agentruns serve --no-worker` subprocess, woken by PostgreSQL NOTIFY, or on SQLite only by
the process's check of the run's log every `AGENTRUNS_EVENTS_POLL_SECONDS`). The baseline is the same subscribers on the
trivial SSE server of `bench.sse_baseline`, an event handed to every stream's queue by a POST.
"""

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.support.servers import free_port, running_server
from tests.support.workers import WorkerProcess

from agentruns.settings import Settings
from agentruns.storage.database import Database
from agentruns.storage.queries import events
from agentruns.storage.queries.events import EventDraft
from bench.event_payloads import baseline_payload, step_payload
from bench.event_runs import end_stream, new_run
from bench.sse_baseline import running_baseline
from bench.support import cpu_seconds

REPOSITORY = Path(__file__).resolve().parent.parent
WAIT_SECONDS = 30.0
IDLE_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class Setup:
    """Where the run is served from: `embedded` (the writer in the API process) or `fleet` (another process)."""

    backend: str
    mode: str

    @property
    def label(self) -> str:
        """How the report names it."""
        where = "writer in the API process" if self.mode == "embedded" else "writer in another process"
        return f"{self.backend}, {where}"


@dataclass
class FanOut:
    """What one fan-out measurement saw."""

    subscribers: int
    events: int
    delays_ms: list[float] = field(default_factory=list[float])
    slowest_ms: list[float] = field(default_factory=list[float])
    """Each event's delay to its last subscriber, in the order they were written."""
    missing: int = 0
    errors: list[str] = field(default_factory=list[str])
    error_count: int = 0
    server_cpu_per_event_ms: float | None = None
    idle_server_cpu_share: float | None = None
    client_cpu_seconds: float = 0.0
    seconds: float = 0.0


class Subscribers:
    """The subscriber subprocess: its `ready`, `all ID` and final report lines."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.seen: set[int] = set()
        self._ready = asyncio.Event()
        self._report: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, url: str, path: str, count: int, key: str, client: str) -> "Subscribers":
        """Start the subprocess; it connects at once."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.sse_clients", "--url", url, "--path", path, "--count", str(count),
            "--key", key, "--client", client, stdout=asyncio.subprocess.PIPE, cwd=REPOSITORY, limit=2**28,
        )  # fmt: skip
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            line = raw.decode().strip()
            if line == "ready":
                self._ready.set()
            elif line.startswith("all "):
                self.seen.add(int(line.split()[1]))
                self._changed.set()
            elif line.startswith("{"):
                self._report.set_result(json.loads(line))
        if not self._report.done():
            self._report.set_exception(RuntimeError(f"the subscribers exited with {await self.process.wait()}"))
        self._ready.set()
        self._changed.set()

    async def ready(self) -> None:
        """Wait until every subscriber has its first event."""
        async with asyncio.timeout(120):
            await self._ready.wait()
        if self._report.done() and self._report.exception() is not None:
            raise RuntimeError("the subscribers could not start") from self._report.exception()

    async def all_have(self, event_id: int) -> bool:
        """Wait (at most WAIT_SECONDS) until every subscriber has the event; whether they did."""
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                while event_id not in self.seen and not self._report.done():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return False
        return event_id in self.seen

    async def report(self) -> dict[str, Any]:
        """The final report, once every stream has ended."""
        async with asyncio.timeout(120):
            report = await self._report
        await self.process.wait()
        await self._reader
        return report


async def _measure(
    subscribers: Subscribers,
    write: Callable[[int], Awaitable[tuple[int, float]]],
    finish: Callable[[], Awaitable[None]],
    count: int,
    events_to_write: int,
    gap_seconds: float,
    server_cpu: Callable[[], float],
) -> FanOut:
    """Write `events_to_write` events one after the other, each once every subscriber has the one before."""
    result = FanOut(subscribers=count, events=events_to_write)
    await subscribers.ready()
    idle_cpu = server_cpu()
    await asyncio.sleep(IDLE_SECONDS)
    result.idle_server_cpu_share = (server_cpu() - idle_cpu) / IDLE_SECONDS
    written: dict[int, float] = {}
    cpu, began = server_cpu(), time.perf_counter()
    for number in range(events_to_write):
        event_id, at = await write(number)
        written[event_id] = at
        if not await subscribers.all_have(event_id):
            result.missing += 1
        await asyncio.sleep(gap_seconds)
    result.seconds = time.perf_counter() - began
    result.server_cpu_per_event_ms = (server_cpu() - cpu) * 1000 / events_to_write
    await finish()
    report = await subscribers.report()
    result.client_cpu_seconds = report["cpu_seconds"]
    result.errors, result.error_count = report["errors"], report["error_count"]
    for event_id, at in written.items():
        times = report["times"].get(str(event_id), [])
        result.delays_ms += [(received - at) * 1000 for received in times]
        result.slowest_ms.append((max(times, default=at) - at) * 1000)
    return result


async def _append(db: Database, run_id: str, draft: EventDraft) -> int:
    async with db.write() as session:
        await events.append(session, run_id, [draft])
        last = await events.last(session, run_id)
    assert last is not None
    return last.seq


async def agentruns_fanout(
    setup: Setup, url: str, directory: Path, count: int, events_to_write: int, gap_seconds: float, client: str
) -> FanOut:
    """Serve a run as `setup` says, subscribe `count` streams to it, and write events one at a time."""
    run = await new_run(url)
    db = Database(url)
    try:
        async with api_server(setup, url, directory) as (base_url, server_cpu):
            path = f"/agent/v1/run/{run.run_id}/events"
            subscribers = await Subscribers.start(base_url, path, count, run.key, client)

            async def write(number: int) -> tuple[int, float]:
                at = time.time()
                draft = EventDraft("run.step", step_payload(number), source=f"bench:{number}")
                return await _append(db, run.run_id, draft), at

            async def finish() -> None:
                await end_stream(url, run.run_id)

            return await _measure(subscribers, write, finish, count, events_to_write, gap_seconds, server_cpu)
    finally:
        await db.dispose()


@asynccontextmanager
async def api_server(setup: Setup, url: str, directory: Path) -> AsyncIterator[tuple[str, Callable[[], float]]]:
    """The API serving the run: in this process (embedded) or an `agentruns serve --no-worker` subprocess."""
    if setup.mode == "embedded":
        settings = Settings(database_url=url, workspace_root=str(directory / "workspaces"), log_level="warning")
        serving = running_server(settings)
        base_url = await asyncio.to_thread(serving.__enter__)
        try:
            yield base_url, time.process_time  # the server's thread and this writer share the process
        finally:
            await asyncio.to_thread(serving.__exit__, None, None, None)
        return
    port = free_port()
    server = await asyncio.to_thread(
        WorkerProcess, url, directory / "workspaces", command=("serve", "--no-worker", "--port", str(port)),
        ready="Application startup complete", log_level="info",
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}", lambda: cpu_seconds(server.process.pid)
    finally:
        await asyncio.to_thread(server.stop)


async def baseline_fanout(count: int, events_to_write: int, gap_seconds: float, client: str) -> FanOut:
    """The same subscribers on the trivial SSE server, each event published by a POST."""
    async with (
        running_baseline(free_port()) as (base_url, pid),
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        subscribers = await Subscribers.start(base_url, "/stream", count, "", client)

        async def write(number: int) -> tuple[int, float]:
            event_id = number + 2  # the stream's first event is 1
            at = time.time()
            await http.post("/publish", json={"id": event_id, "name": "run.step", "data": baseline_payload(number)})
            return event_id, at

        async def finish() -> None:
            await http.post("/publish", json={"id": events_to_write + 2, "name": "close", "data": {}})

        return await _measure(subscribers, write, finish, count, events_to_write, gap_seconds, lambda: cpu_seconds(pid))
