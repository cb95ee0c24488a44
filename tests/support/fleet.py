"""API processes of a fleet on one database, for tests and benchmarks: `agentruns serve --no-worker` processes
and an authenticated client of each."""

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from agentruns.services.auth import issue_key
from tests.support.portal import async_bridge
from tests.support.servers import free_port
from tests.support.workers import WorkerProcess


@contextmanager
def api_processes(
    url: str,
    workspaces: Path,
    *,
    count: int,
    key_name: str,
    timeout: httpx.Timeout | float = 60,
    **settings: str,
) -> Iterator[list[httpx.Client]]:
    """Start `count` API processes (with `settings`, as `WorkerProcess` takes them) on the database at `url`; yields
    a client of each, all with one new key of a new organization. Everything is stopped when the block ends."""
    with async_bridge(url) as bridge:
        key = bridge.call(issue_key, bridge.db, key_name).key
    with ExitStack() as stack:
        clients: list[httpx.Client] = []
        for _ in range(count):
            port = free_port()
            api = WorkerProcess(url, workspaces, command=("serve", "--no-worker", "--port", str(port)),
                                ready="Application startup complete", log_level="info", **settings)  # fmt: skip
            stack.callback(api.stop)
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"},
                                  timeout=timeout)  # fmt: skip
            clients.append(stack.enter_context(client))
        yield clients
