"""The API's HTTP server: a shutdown ends the open event streams cleanly instead of waiting for their clients."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.factories import make_agent, make_run
from tests.support.servers import free_port
from tests.support.sse import frames

AGENTRUNS = str(Path(sys.executable).with_name("agentruns"))


def test_sigterm_with_an_open_stream_ends_the_stream_and_the_server(tmp_path: Path) -> None:
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AGENTRUNS_")}
    environment |= {"AGENTRUNS_DATABASE_URL": f"sqlite:///{tmp_path}/agentruns.db", "AGENTRUNS_WORKER": "false"}
    server = subprocess.Popen(
        [AGENTRUNS, "serve", "--port", str(port)], env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90  # a cold start on a loaded 2-core machine can take half a minute
        while True:
            try:
                httpx.get(f"{base_url}/health")
                break
            except httpx.ConnectError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        key = subprocess.run(
            [AGENTRUNS, "keys", "create", "--org", "sse-org"], env=environment, capture_output=True, text=True,
            check=True, timeout=120,
        ).stdout.strip()  # fmt: skip
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=httpx.Timeout(30, read=10)) as client:
            run_id = make_run(client, make_agent(client)["id"])["id"]  # queued: no worker, no end
            with client.stream("GET", f"/agent/v1/run/{run_id}/events") as response:
                read = frames(response)
                assert next(read).event == "run.status"
                server.send_signal(signal.SIGTERM)
                # The body ends cleanly (a cut connection would raise here), with nothing more in it.
                assert list(read) == []
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            output = server.communicate(timeout=30)[0].decode()
        except subprocess.TimeoutExpired:
            server.kill()
            output = server.communicate()[0].decode() + "\n(killed: it did not stop within 30 s of SIGTERM)"
    assert "Application shutdown complete" in output
    assert server.returncode in (0, -signal.SIGTERM), output
