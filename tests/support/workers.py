"""Real `agentruns worker` processes for tests."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.support.secrets_key import TEST_SECRETS_KEY

AGENTRUNS = str(Path(sys.executable).with_name("agentruns"))
TEST_POOL_SIZE = "4"


class WorkerProcess:
    """An `agentruns worker` subprocess (or `serve`, given `command`); its output is kept for messages."""

    def __init__(
        self,
        database_url: str,
        workspace_root: Path,
        *,
        command: tuple[str, ...] = ("worker",),
        ready: str = "is running",
        **settings: str,
    ) -> None:
        environment = {key: value for key, value in os.environ.items() if not key.startswith("AGENTRUNS_")}
        environment |= {
            # The session's key of stored secrets (`tests.support.secrets_key`), which the API servers use too.
            "AGENTRUNS_SECRETS_KEY": os.environ.get("AGENTRUNS_SECRETS_KEY", TEST_SECRETS_KEY),
            "AGENTRUNS_DATABASE_URL": database_url,
            "AGENTRUNS_WORKSPACE_ROOT": str(workspace_root),
            "AGENTRUNS_QUEUE_POLL_SECONDS": "0.05",
            "AGENTRUNS_LOG_LEVEL": "warning",
            # A test session runs several processes on one PostgreSQL server (max_connections 100 by default).
            "AGENTRUNS_DATABASE_POOL_SIZE": TEST_POOL_SIZE,
            "AGENTRUNS_ENGINE_POOL_SIZE": TEST_POOL_SIZE,
        } | {f"AGENTRUNS_{key.upper()}": value for key, value in settings.items()}
        for variable in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY"):
            environment.pop(variable, None)
        self.output: list[str] = []
        self.process = subprocess.Popen(
            [AGENTRUNS, *command], env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        ready_line = ready
        started = threading.Event()

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                if ready_line in line:
                    started.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 60
        while not started.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the worker did not start:\n" + "".join(self.output))

    def kill(self) -> None:
        """SIGKILL: no goodbye."""
        self.process.kill()
        self.process.wait(timeout=30)
        self._close()

    def _close(self) -> None:
        self._reader.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def stop(self) -> None:
        """SIGTERM, and wait for the exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self._close()
