"""The API's HTTP server: a shutdown ends the open event streams cleanly instead of waiting for their clients."""

import os
import signal
import subprocess
from pathlib import Path

import httpx

from tests.support.factories import make_agent, make_run
from tests.support.servers import agentruns_serve
from tests.support.sse import frames
from tests.support.workers import AGENTRUNS


def test_sigterm_with_an_open_stream_ends_the_stream_and_the_server(tmp_path: Path) -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AGENTRUNS_")}
    environment |= {"AGENTRUNS_DATABASE_URL": f"sqlite:///{tmp_path}/agentruns.db", "AGENTRUNS_WORKER": "false"}
    with agentruns_serve(environment) as server:
        key = subprocess.run(
            [AGENTRUNS, "keys", "create", "--org", "sse-org"], env=environment, capture_output=True, text=True,
            check=True, timeout=120,
        ).stdout.strip()  # fmt: skip
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=httpx.Timeout(30, read=10)) as client:
            run_id = make_run(client, make_agent(client)["id"])["id"]  # queued: no worker, no end
            with client.stream("GET", f"/agent/v1/run/{run_id}/events") as response:
                read = frames(response)
                assert next(read).event == "run.status"
                server.process.send_signal(signal.SIGTERM)
                # The body ends cleanly (a cut connection would raise here), with nothing more in it.
                assert list(read) == []
    assert "Application shutdown complete" in server.output
    assert server.process.returncode in (0, -signal.SIGTERM), server.output
