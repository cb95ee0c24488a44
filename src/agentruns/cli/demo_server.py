"""The demo's own server: an `agentruns serve` subprocess on the embedded default, started and stopped by the demo."""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import ValidationError

from agentruns.client.models import Health

DEFAULT_PORT = 2728
LOG = Path(".agentruns") / "demo-server.log"
START_SECONDS = 180.0
"""How long the server may take to answer: it imports the engine and migrates a new database first."""
STOP_SECONDS = 30.0
TAIL_LINES = 20
REFUSAL = "the worker cannot start"
"""What `agentruns serve` says before it exits when its worker cannot sandbox tools (cli/worker.py)."""


class ServerFailed(Exception):
    """The server exited, or did not answer in time; the message ends with the tail of its log."""


def is_agentruns(url: str) -> bool:
    """Whether an agentruns server answers its health check at `url`."""
    try:
        response = httpx.get(f"{url}/health", timeout=2.0)
        Health.model_validate_json(response.content)
    except (httpx.HTTPError, ValidationError):
        return False
    return response.status_code == 200


def port_is_free(port: int) -> bool:
    """Whether a server could bind 127.0.0.1:`port` now (as uvicorn does, with SO_REUSEADDR)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pick_port(requested: int | None) -> int:
    """The port asked for, else the default 2728 if it is free, else any free port."""
    if requested is not None:
        return requested
    return DEFAULT_PORT if port_is_free(DEFAULT_PORT) else free_port()


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    """The last lines of a log, indented."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "  (no log)"
    return "\n".join(f"  {line}" for line in text.rstrip().splitlines()[-lines:]) or "  (the log is empty)"


@dataclass
class DemoServer:
    """A running `agentruns serve` subprocess, its URL and the key it accepts."""

    url: str
    api_key: str
    process: subprocess.Popen[bytes]
    log: Path

    def answers(self) -> bool:
        """Whether this server, and not another one that took the port, accepts its key."""
        headers = {"Authorization": f"Bearer {self.api_key}"}
        try:
            response = httpx.get(f"{self.url}/agent/v1/agents", params={"limit": 1}, headers=headers, timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def wait_until_ready(self, seconds: float = START_SECONDS) -> None:
        """Return once the server answers with its key.

        Raises:
            ServerFailed: It exited first (a worker that cannot sandbox tools refuses to start), or took too long.
        """
        deadline = time.monotonic() + seconds
        while not self.answers():
            if (status := self.process.poll()) is not None:
                raise ServerFailed(f"{self._why_it_exited(status)}; the end of {self.log}:\n{tail(self.log)}")
            if time.monotonic() > deadline:
                self.stop()
                raise ServerFailed(
                    f"the server did not answer in {seconds:.0f} s; the end of {self.log}:\n{tail(self.log)}"
                )
            time.sleep(0.2)

    def _why_it_exited(self, status: int) -> str:
        try:
            said = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            said = ""
        if REFUSAL in said:
            return "its worker refused to start, because the runs' tools cannot be put in a sandbox on this machine"
        return f"it exited with status {status}"

    def stop(self) -> None:
        """SIGTERM, and wait for it to shut down (SIGKILL if it will not)."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_SECONDS)


def start_server(port: int) -> DemoServer:
    """Start `agentruns serve` with a worker on 127.0.0.1:`port` and a new key, its output in `.agentruns/`.

    It reads the rest of its settings from the environment like any `agentruns serve`, so by default it is the
    embedded one: a SQLite file and the workspaces under `./.agentruns/`. It runs in a session of its own, so that
    a server kept with `--keep` outlives the terminal's Ctrl-C.
    """
    key = "ar_demo_" + secrets.token_urlsafe(24)
    LOG.parent.mkdir(parents=True, exist_ok=True)
    environment = os.environ | {"AGENTRUNS_API_KEY": key} | _reachable_workspaces()
    command = [sys.executable, "-m", "agentruns", "serve", "--host", "127.0.0.1", "--port", str(port), "--worker"]
    with LOG.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=environment,
            start_new_session=True,
        )  # fmt: skip
    return DemoServer(url=f"http://127.0.0.1:{port}", api_key=key, process=process, log=LOG.resolve())


DEMO_WORKSPACES = Path("/var/tmp/agentruns-demo/workspaces")  # noqa: S108 - world-searchable by design, 0711


def _reachable_workspaces() -> dict[str, str]:
    """As root, the jails run as `nobody`, who cannot reach `./.agentruns/workspaces` in a clone under a 0700
    home (`/root`): then the demo's server keeps its workspaces under /var/tmp instead, so that the quick start
    works from any clone. A workspace root set in the environment is left as it is."""
    if os.geteuid() != 0 or "AGENTRUNS_WORKSPACE_ROOT" in os.environ:
        return {}
    from agentruns.sandbox.bubblewrap import HOST_UID, check_reachable  # here: keeps the CLI quick to start
    from agentruns.sandbox.errors import SandboxError

    default = Path(".agentruns/workspaces").resolve()
    default.mkdir(parents=True, exist_ok=True)
    try:
        check_reachable(default, (HOST_UID, HOST_UID))
    except SandboxError:
        for directory in (DEMO_WORKSPACES.parent, DEMO_WORKSPACES):
            directory.mkdir(exist_ok=True)
            directory.chmod(0o711)
        return {"AGENTRUNS_WORKSPACE_ROOT": str(DEMO_WORKSPACES)}
    return {}
