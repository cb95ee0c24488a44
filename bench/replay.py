"""(b) Replay: one client reads a run's stored events from the start to the end, as fast as the server sends.

The run has its first event (`run.status`), N stored `run.step` events and a terminal event, so the stream
replays N + 2 events, sends `close` and ends. The server is a real `agentruns serve --no-worker` subprocess;
the client, in the benchmark's process, reads with raw sockets (or httpx). The baseline is the same client
on the trivial SSE server's `/replay`, which builds the same number of events of the same shape in memory.
"""

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.servers import free_port

from bench.event_runs import end_stream, new_run
from bench.fanout import Setup, api_server
from bench.sse_baseline import running_baseline
from bench.sse_clients import subscribe_all
from bench.support import cpu_seconds


@dataclass
class Replay:
    """Wall time of each read of the whole log, and the server's CPU per event."""

    events: int
    seconds: list[float] = field(default_factory=list[float])
    server_cpu_per_event_us: float = 0.0

    @property
    def events_per_second(self) -> float:
        """Events per second of the median read."""
        return self.events / statistics.median(self.seconds)


async def _read(url: str, path: str, headers: dict[str, str], events: int, client: str) -> float:
    began = time.perf_counter()
    tally = await subscribe_all(url, path, headers, 1, client, say=lambda _: None)
    took = time.perf_counter() - began
    if tally.errors or len(tally.times) != events:
        raise RuntimeError(f"the replay read {len(tally.times)} events, not {events}: {tally.errors}")
    return took


async def agentruns_replay(backend: str, url: str, directory: Path, stored: int, repeats: int, client: str) -> Replay:
    """Store the events, then read them all `repeats` times from one `serve --no-worker` process."""
    run = await new_run(url, stored_events=stored)
    await end_stream(url, run.run_id)
    result = Replay(events=stored + 2)
    headers = {"Authorization": f"Bearer {run.key}"}
    path = f"/agent/v1/run/{run.run_id}/events?lastEventId=0"
    async with api_server(Setup(backend, "fleet"), url, directory) as (base_url, server_cpu):
        await _read(base_url, path, headers, result.events, client)  # warm-up
        cpu = server_cpu()
        for _ in range(repeats):
            result.seconds.append(await _read(base_url, path, headers, result.events, client))
        result.server_cpu_per_event_us = (server_cpu() - cpu) * 1e6 / (repeats * result.events)
    return result


async def baseline_replay(stored: int, repeats: int, client: str) -> Replay:
    """The same reads of the trivial SSE server's in-memory replay."""
    result = Replay(events=stored + 2)
    async with running_baseline(free_port()) as (base_url, pid):
        path = f"/replay?count={result.events}"
        await _read(base_url, path, {}, result.events, client)
        cpu = cpu_seconds(pid)
        for _ in range(repeats):
            result.seconds.append(await _read(base_url, path, {}, result.events, client))
        result.server_cpu_per_event_us = (cpu_seconds(pid) - cpu) * 1e6 / (repeats * result.events)
    return result
