"""(b) Throughput: many short runs created and exec'd at once over HTTP, against `GET /health` on the same server.

The server is a real `agentruns serve --worker` subprocess (API and worker in one process, as shipped)
on a fresh database. The client is httpx on asyncio with a fixed number of lanes, each lane one
`AsyncClient` holding one keep-alive connection: a single `AsyncClient` with 32 pooled connections costs
about 4 ms of client CPU per request here (against about 1 ms with one connection), and the client shares
the machine's 2 cores with the server.
"""

import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.support import SECRETS_KEY, cpu_seconds, parse_timestamp, postgres_cpu_seconds, scripted_prompt

AGENTRUNS = str(Path(sys.executable).with_name("agentruns"))
QUEUE_POLL_SECONDS = "0.05"
DONE_POLL_SECONDS = 0.1
START_TIMEOUT_SECONDS = 60.0
DONE_TIMEOUT_SECONDS = 120.0
ACTIVE_STATUSES = ("queued", "running", "waiting")  # checked in this order: a run only moves forward


@dataclass(frozen=True, slots=True)
class Server:
    """A running server: its URL and its processes (the API's, and its workers' if they run apart), whose CPU
    time we read."""

    url: str
    pids: tuple[int, ...]
    """The API's process first, then its workers' (none when the API runs its worker embedded)."""

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server's processes have used so far."""
        return sum(cpu_seconds(pid) for pid in self.pids)

    def worker_cpu_seconds(self) -> float | None:
        """CPU time the worker processes apart from the API have used so far; None if the worker is embedded."""
        return sum(cpu_seconds(pid) for pid in self.pids[1:]) if len(self.pids) > 1 else None


@dataclass(frozen=True, slots=True)
class Cost:
    """Wall time of a phase and the CPU the server, this client and the local PostgreSQL server (if one runs on this
    host: None otherwise) spent in it."""

    seconds: float
    server_cpu_seconds: float
    client_cpu_seconds: float
    postgres_cpu_seconds: float | None
    worker_cpu_seconds: float | None = None
    """The part of `server_cpu_seconds` spent by worker processes apart from the API (None: embedded)."""


@dataclass(frozen=True, slots=True)
class Throughput:
    """What one backend's throughput test measured."""

    runs: int
    completed: int
    other_statuses: dict[str, int]
    submit_seconds: float
    exec_to_last_completed_seconds: float
    create_to_all_done_seconds: float
    median_queue_wait_ms: float
    median_run_ms: float
    runs_cost: Cost
    health_requests: int
    health_cost: Cost

    @property
    def runs_per_second(self) -> float:
        """Completed runs per second from the first exec to the last completedAt."""
        return self.completed / self.exec_to_last_completed_seconds

    @property
    def runs_per_second_overall(self) -> float:
        """Completed runs per second from the first create to the moment the caller saw every run end."""
        return self.completed / self.create_to_all_done_seconds

    @property
    def health_per_second(self) -> float:
        """`GET /health` answered per second."""
        return self.health_requests / self.health_cost.seconds


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(database_url: str, directory: Path, api_key: str, *, workers: int = 0) -> Iterator[Server]:
    """Run `agentruns serve --worker` on a free loopback port until the block ends; with `workers`, run
    `agentruns serve --no-worker` and that many `agentruns worker` processes instead."""
    port = _free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AGENTRUNS_")}
    environment |= {
        "AGENTRUNS_DATABASE_URL": database_url,
        "AGENTRUNS_API_KEY": api_key,
        "AGENTRUNS_SECRETS_KEY": SECRETS_KEY,
        "AGENTRUNS_QUEUE_POLL_SECONDS": QUEUE_POLL_SECONDS,
        "AGENTRUNS_WORKSPACE_ROOT": str(directory / "workspaces"),
        "AGENTRUNS_LOG_LEVEL": "warning",
    }
    directory.mkdir(parents=True, exist_ok=True)
    log_path = directory / f"serve-{port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603
            [AGENTRUNS, "serve", "--no-worker" if workers else "--worker", "--host", "127.0.0.1", "--port", str(port)],
            env=environment, stdout=log, stderr=subprocess.STDOUT, cwd=directory,
        )  # fmt: skip
    worker_logs = [directory / f"worker-{port}-{number}.log" for number in range(workers)]
    worker_processes: list[subprocess.Popen[bytes]] = []
    for number, worker_log_path in enumerate(worker_logs):
        with worker_log_path.open("w") as log:
            worker_processes.append(subprocess.Popen(  # noqa: S603
                [AGENTRUNS, "worker"], env=environment | {"AGENTRUNS_EXECUTOR_ID": f"bench-{port}-{number}"},
                stdout=log, stderr=subprocess.STDOUT, cwd=directory,
            ))  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not all("is running" in worker_log_path.read_text() for worker_log_path in worker_logs):
            if any(worker.poll() is not None for worker in worker_processes) or time.monotonic() > deadline:
                raise RuntimeError("a worker did not start:\n" + "".join(p.read_text()[-2000:] for p in worker_logs))
            time.sleep(0.1)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{log_path.read_text()[-4000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200 and process.poll() is None:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield Server(url=url, pids=(process.pid, *(worker.pid for worker in worker_processes)))
    except BaseException:
        _explain_failure(process, port, log_path)
        raise
    finally:
        for stopping in (process, *worker_processes):
            stopping.terminate()
        for stopping in (process, *worker_processes):
            try:
                stopping.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stopping.kill()
                stopping.wait()
        for logged in (log_path, *worker_logs):
            _report_server_errors(logged.read_text())


def _explain_failure(process: "subprocess.Popen[bytes]", port: int, log_path: Path) -> None:
    """Say what the server was doing when the benchmark failed: alive or not, who listens on its port, its log."""
    state = "running" if process.poll() is None else f"exited with code {process.returncode}"
    print(f"  the server (pid {process.pid}, port {port}) is {state}", file=sys.stderr)
    command = ["ss", "-Htlnp", f"sport = :{port}"]
    listening = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    print(f"  listening on port {port}: {listening.stdout.strip() or 'nobody'}", file=sys.stderr)
    print("\n".join(f"    | {line}" for line in log_path.read_text().splitlines()[-40:]), file=sys.stderr)


def _report_server_errors(log: str) -> None:
    """Show what the server logged at ERROR level or worse, if anything: a run of the benchmark must be clean."""
    lines = log.splitlines()
    problems = [number for number, line in enumerate(lines) if "Traceback" in line or "ERROR" in line]
    if problems:
        print(f"  note: the server logged {len(problems)} error(s); the first one:", file=sys.stderr)
        print("\n".join(f"    | {line}" for line in lines[problems[0] : problems[0] + 40]), file=sys.stderr)


async def _in_lanes(
    count: int, lanes: list[httpx.AsyncClient], job: Callable[[httpx.AsyncClient], Awaitable[None]]
) -> None:
    """Run `job` `count` times, one at a time in each lane, all lanes at once."""
    tickets = iter(range(count))

    async def lane(client: httpx.AsyncClient) -> None:
        for _ in tickets:
            await job(client)

    await asyncio.gather(*(lane(client) for client in lanes))


async def _checked(response: Awaitable[httpx.Response]) -> Any:
    answer = await response
    if answer.status_code >= 300:
        request = answer.request
        raise RuntimeError(f"{request.method} {request.url.path} answered {answer.status_code}: {answer.text}")
    return answer.json()


async def _timed(server: Server, phase: Awaitable[None]) -> Cost:
    server_cpu, client_cpu, started = server.cpu_seconds(), time.process_time(), time.perf_counter()
    worker_cpu, postgres_cpu = server.worker_cpu_seconds(), postgres_cpu_seconds()
    await phase
    worker_after, postgres_after = server.worker_cpu_seconds(), postgres_cpu_seconds()
    return Cost(
        seconds=time.perf_counter() - started,
        server_cpu_seconds=server.cpu_seconds() - server_cpu,
        client_cpu_seconds=time.process_time() - client_cpu,
        postgres_cpu_seconds=None if postgres_cpu is None or postgres_after is None else postgres_after - postgres_cpu,
        worker_cpu_seconds=None if worker_cpu is None or worker_after is None else worker_after - worker_cpu,
    )


async def _list_all(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = await _checked(client.get("/agent/v1/run", params={"limit": 250, "cursor": cursor}))
        listed += page["runs"]
        if not page["hasMore"]:
            return listed
        cursor = page["nextCursor"]


async def _wait_until_done(client: httpx.AsyncClient) -> float:
    """Poll cheaply (one-item pages of each active status) until no run is active; the time it was seen."""
    deadline = time.monotonic() + DONE_TIMEOUT_SECONDS
    while True:
        active = 0
        for status in ACTIVE_STATUSES:
            page = await _checked(client.get("/agent/v1/run", params={"status": status, "limit": 1}))
            active += len(page["runs"])
            if active:
                break
        if not active:
            return time.time()
        if time.monotonic() > deadline:
            raise RuntimeError(f"runs were still active after {DONE_TIMEOUT_SECONDS:g} s")
        await asyncio.sleep(DONE_POLL_SECONDS)


async def measure(server: Server, api_key: str, runs: int, concurrency: int, health_requests: int) -> Throughput:
    """Measure /health first, then create and exec `runs` one-tool runs at once and wait for all to end."""
    headers = {"Authorization": f"Bearer {api_key}"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with AsyncExitStack() as stack:
        lanes = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=server.url, headers=headers, limits=limits,
                                                              timeout=DONE_TIMEOUT_SECONDS))
            for _ in range(concurrency)
        ]  # fmt: skip
        client = lanes[0]

        async def health(lane: httpx.AsyncClient) -> None:
            await _checked(lane.get("/health"))

        await _in_lanes(concurrency * 2, lanes, health)  # warm-up: every lane opens its connection
        health_cost = await _timed(server, _in_lanes(health_requests, lanes, health))

        agent = await _checked(client.post("/agent/v1/agents", json={
            "name": "bench", "instructions": "You help.", "model": "offline/scripted"}))  # fmt: skip
        body = {"agentId": agent["id"], "prompt": scripted_prompt(1)}
        first_create: list[float] = []
        first_exec: list[float] = []
        submitted: list[float] = []
        done: list[float] = []

        async def submit(lane: httpx.AsyncClient) -> None:
            if not first_create:
                first_create.append(time.time())
            run = await _checked(lane.post("/agent/v1/run", json=body))
            if not first_exec:
                first_exec.append(time.time())
            await _checked(lane.post(f"/agent/v1/run/{run['id']}/exec"))

        async def submit_and_wait() -> None:
            started = time.perf_counter()
            await _in_lanes(runs, lanes, submit)
            submitted.append(time.perf_counter() - started)
            done.append(await _wait_until_done(client))

        runs_cost = await _timed(server, submit_and_wait())
        listed = await _list_all(client)
    if len(listed) != runs:
        raise RuntimeError(f"the server lists {len(listed)} runs, not the {runs} created")
    completed = [run for run in listed if run["status"] == "completed"]
    others: dict[str, int] = {}
    for run in listed:
        if run["status"] != "completed":
            others[run["status"]] = others.get(run["status"], 0) + 1
    last_completed = max((parse_timestamp(run["completedAt"]).timestamp() for run in completed), default=first_exec[0])
    return Throughput(
        runs=runs,
        completed=len(completed),
        other_statuses=others,
        submit_seconds=submitted[0],
        exec_to_last_completed_seconds=last_completed - first_exec[0],
        create_to_all_done_seconds=done[0] - first_create[0],
        median_queue_wait_ms=_median_ms(completed, "createdAt", "startedAt"),
        median_run_ms=_median_ms(completed, "startedAt", "completedAt"),
        runs_cost=runs_cost,
        health_requests=health_requests,
        health_cost=health_cost,
    )


def _median_ms(listed: list[dict[str, Any]], start: str, end: str) -> float:
    spans = [(parse_timestamp(run[end]) - parse_timestamp(run[start])).total_seconds() * 1000 for run in listed]
    return statistics.median(spans) if spans else float("nan")


def throughput(
    database_url: str, directory: Path, runs: int, concurrency: int, health_requests: int, *, workers: int = 0
) -> Throughput:
    """Start a server on the database (with `workers`: the API and that many worker processes) and measure it."""
    api_key = "bench-" + secrets.token_urlsafe(16)
    with serving(database_url, directory, api_key, workers=workers) as server:
        return asyncio.run(measure(server, api_key, runs, concurrency, health_requests))
