"""What the benchmarks share: fresh scratch databases, the scripted prompt, medians and timestamps."""

import os
import secrets
import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet
from psycopg import sql

SECRETS_KEY = os.environ.setdefault("AGENTRUNS_SECRETS_KEY", Fernet.generate_key().decode())
"""The key of stored secrets for the benchmarks' processes: PostgreSQL needs one (the in-process settings read it
from the environment; the servers the benchmarks start are given it)."""
POSTGRES_ADMIN_URL = os.environ.get("AGENTRUNS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ("sqlite", "postgresql")
TERMINAL = frozenset({"completed", "failed", "cancelled", "timeout"})
SCRATCH_FILE = "bench.txt"


@contextmanager
def fresh_database(backend: str, directory: Path) -> Iterator[str]:
    """A new, empty database (a SQLite file under `directory`, or `agentruns_bench_*` on PostgreSQL),
    dropped when the block ends; yields its URL."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / f'bench-{secrets.token_hex(4)}.db'}"
        return
    name = f"agentruns_bench_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float | None:
    """CPU time the local PostgreSQL server has used so far (its postmaster, the backends it reaped, the live ones);
    None if no PostgreSQL runs on this host. The difference of two readings is what the server spent between them,
    for every database it serves."""
    processes: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _comm(entry) == "postgres":
            try:
                processes[int(entry.name)] = _stat_fields(int(entry.name))
            except OSError:  # it ended meanwhile: the postmaster counts it once reaped
                continue
    postmasters = [pid for pid, fields in processes.items() if int(fields[1]) not in processes]
    if len(postmasters) != 1:
        return None
    own = processes[postmasters[0]]
    ticks = sum(int(value) for value in own[11:15])  # utime, stime, and those of its reaped children
    ticks += sum(int(fields[11]) + int(fields[12]) for pid, fields in processes.items() if pid != postmasters[0])
    return ticks / os.sysconf("SC_CLK_TCK")


def _comm(entry: Path) -> str:
    try:
        return (entry / "comm").read_text().strip()
    except OSError:
        return ""


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name: state, ppid, … (utime is index 11)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def scripted_prompt(tool_calls: int) -> str:
    """A prompt that makes the offline model call `tool_calls` near-free tools, then answer.

    The first call writes a one-byte file of the workspace, the others read it back: neither starts a
    process. Such a run makes `tool_calls + 1` model requests and `tool_calls` tool calls.
    """
    lines = [f'call write {{"path": "{SCRATCH_FILE}", "content": "x"}}']
    lines += [f'call read {{"path": "{SCRATCH_FILE}"}}'] * (tool_calls - 1)
    return "\n".join([*lines[:tool_calls], "reply done"])


def steps_of(tool_calls: int) -> int:
    """The steps of a scripted run: every model request and every tool call."""
    return 2 * tool_calls + 1


def median(values: Sequence[float]) -> float:
    """The median of the repetitions."""
    return statistics.median(values)


def parse_timestamp(value: str) -> datetime:
    """An API timestamp (`2026-03-01T12:00:00.000Z`) as an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (linear interpolation between the closest ranks)."""
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def load_average() -> str:
    """The machine's load averages over 1, 5 and 15 minutes, as the reports print them."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())
