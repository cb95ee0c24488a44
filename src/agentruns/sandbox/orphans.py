"""Jails whose service died: each jail's processes name their service, so that any worker here can kill them."""

import contextlib
import functools
import logging
import os
import signal
from pathlib import Path

log = logging.getLogger("agentruns.sandbox")

_MARK = "agentruns-launcher"


@functools.cache
def service_mark() -> str:
    """This process by pid and start time (a pid alone may be reused): `PID-START`."""
    return f"{os.getpid()}-{_start_time(os.getpid())}"


def service_alive(pid: int, started: int) -> bool:
    """Whether the service `service_mark` named as `pid-started` still runs."""
    return _alive(pid, started)


@functools.cache
def owner_mark() -> str:
    """The launcher's `$0`, naming this process by pid and start time (a pid alone may be reused).

    bubblewrap's processes carry it in their command line, and so does the launcher until it becomes the
    command. The watcher (see `runner.py`) kills a jail when its service dies; what it cannot reach, this
    module's sweep does: a bubblewrap process the service's death left blocked in bubblewrap's own start-up
    handshake, running nothing, or a jail whose command killed its watcher.
    """
    return f"{_MARK}:{os.getpid()}:{_start_time(os.getpid())}"


def kill_orphaned_jails() -> list[int]:
    """SIGKILL every process marked by a service that is gone; returns their pids.

    Killing a jail's pid 1 (bubblewrap's inner process) makes the kernel kill its whole pid namespace.
    """
    killed: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        owner = _owner(argv)
        if owner is None or _alive(*owner):
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(int(entry.name), signal.SIGKILL)
            killed.append(int(entry.name))
    if killed:
        log.warning("killed %d sandbox processes left by services that are gone: %s", len(killed), killed)
    return killed


def _owner(argv: list[bytes]) -> tuple[int, int] | None:
    prefix = f"{_MARK}:".encode()
    for arg in argv:
        if arg.startswith(prefix):
            with contextlib.suppress(ValueError):
                pid, started = arg[len(prefix) :].split(b":")
                return int(pid), int(started)
    return None


def _alive(pid: int, started: int) -> bool:
    try:
        return _start_time(pid) == started
    except OSError:
        return False


def _start_time(pid: int) -> int:
    """The process's start time, in clock ticks since boot (field 22 of /proc/PID/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    return int(stat[stat.rindex(b")") + 2 :].split()[19])
