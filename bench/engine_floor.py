"""The engine's own floor: workflows that do nothing, enqueued at once and run by DBOS alone, on PostgreSQL.

Every run is one DBOS workflow taken from a queue, so no run can cost less than this. It enqueues `--workflows`
no-op workflows at once (each with a DBOS client's own transaction, as the API's exec does) into a queue of this
process, waits until all have ended, and prints workflows per second, this process's CPU and the local PostgreSQL
server's CPU per workflow (`bench.support.postgres_cpu_seconds`), from the first enqueue to the last workflow's end
as DBOS recorded it. No agentruns code runs: DBOS, SQLAlchemy and
psycopg only.

    .venv/bin/python -m bench.engine_floor [--workflows 200] [--poll 0.2]
"""

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import psycopg
from dbos import DBOS, DBOSClient, DBOSConfig, EnqueueOptions

from bench.support import fresh_database, postgres_cpu_seconds

QUEUE = "floor"


@DBOS.workflow(name="bench.noop")
async def noop(number: int) -> int:
    """A workflow with nothing to do."""
    return number


async def measure(url: str, workflows: int, poll: float) -> None:
    """Launch DBOS on the database, enqueue the workflows at once, wait for every one, print the figures."""
    config: DBOSConfig = {"name": "engine-floor", "system_database_url": url, "executor_id": "floor",
                          "log_level": "WARNING", "max_executor_threads": 64}  # fmt: skip
    DBOS(config=config)
    DBOS.launch()
    await DBOS.register_queue_async(QUEUE, worker_concurrency=workflows, polling_interval_sec=poll)
    client = DBOSClient(system_database_url=url)
    options: EnqueueOptions = {"queue_name": QUEUE, "workflow_name": "bench.noop"}
    try:
        postgres, process, started = postgres_cpu_seconds(), time.process_time(), time.time()
        for number in range(workflows):
            await client.enqueue_async(options, number)
        enqueued, enqueue_cpu = time.time() - started, time.process_time()
        last_ended = await _all_ended(url, workflows)
        wall = last_ended - started
        enqueue_ms = (enqueue_cpu - process) * 1000 / workflows
        execute_ms = (time.process_time() - enqueue_cpu) * 1000 / workflows
        after = postgres_cpu_seconds()
    finally:
        client.destroy()
        DBOS.destroy(workflow_completion_timeout_sec=0)
    server = "" if postgres is None or after is None else f", PostgreSQL {(after - postgres) * 1000 / workflows:.1f} ms"
    print(f"engine floor: {workflows} no-op DBOS workflows enqueued at once (queue polled every {poll:g} s)")
    print(f"  enqueued in {enqueued:.2f} s, all ended after {wall:.2f} s: {workflows / wall:.1f} workflows/s")
    print(f"  CPU per workflow: enqueue (the client) {enqueue_ms:.1f} ms, execution (the queue's dequeue, the"
          f" workflow's start and end, after the enqueues) {execute_ms:.1f} ms{server}")  # fmt: skip


async def _all_ended(url: str, workflows: int) -> float:
    """Wait (one cheap count every 50 ms) until every workflow of the queue succeeded; when the last one ended."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        while True:
            cursor = await connection.execute(
                "SELECT count(*), max(updated_at) FROM dbos.workflow_status WHERE queue_name = %s AND status = %s",
                (QUEUE, "SUCCESS"),
            )
            ended, last_ms = await cursor.fetchone() or (0, None)
            if ended == workflows and last_ms is not None:
                return last_ms / 1000
            await asyncio.sleep(0.05)


def main() -> None:
    """Parse the options and measure."""
    parser = argparse.ArgumentParser(prog="python -m bench.engine_floor", description=__doc__)
    parser.add_argument("--workflows", type=int, default=200)
    parser.add_argument("--poll", type=float, default=0.2, help="the queue's polling interval, s [0.2, as shipped]")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory, fresh_database("postgresql", Path(directory)) as url:
        asyncio.run(measure(url, options.workflows, options.poll))


if __name__ == "__main__":
    main()
