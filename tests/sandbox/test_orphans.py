"""The sweep kills processes marked by a service that is gone, and nothing else."""

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator

import pytest

from agentruns.sandbox.orphans import kill_orphaned_jails, owner_mark

GONE = f"agentruns-launcher:{1 << 22}:1"
"""The mark of a service that is gone: pids stay below 2**22 (the kernel's maximum), so none is alive."""


def _marked(mark: str) -> subprocess.Popen[bytes]:
    # `bash -c script MARK` keeps the mark in bash's command line, as in a jail's bubblewrap processes;
    # `; :` stops bash from becoming the sleep, whose command line would not have it.
    return subprocess.Popen(["bash", "-c", "sleep 60; :", mark], start_new_session=True)


@pytest.fixture
def processes() -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """Long sleeps: one marked by a service that is gone, one marked by this live process, one unmarked."""
    started = {"orphan": _marked(GONE), "owned": _marked(owner_mark()), "unmarked": _marked("not-a-mark")}
    yield started
    for process in started.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_kills_the_processes_of_a_service_that_is_gone_and_spares_the_rest(
    processes: dict[str, subprocess.Popen[bytes]],
) -> None:
    killed = kill_orphaned_jails()

    assert processes["orphan"].pid in killed
    assert processes["orphan"].wait(timeout=5) == -signal.SIGKILL
    assert processes["owned"].poll() is None and processes["unmarked"].poll() is None
    assert processes["owned"].pid not in killed and processes["unmarked"].pid not in killed


def test_the_mark_names_this_process_and_its_start() -> None:
    name, pid, started = owner_mark().split(":")

    assert (name, int(pid)) == ("agentruns-launcher", os.getpid()) and int(started) > 0
