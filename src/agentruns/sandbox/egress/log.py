"""The record of a run's connections, allowed and refused, bounded so that a hostile run cannot flood it."""

import asyncio
from dataclasses import dataclass, replace
from typing import Any

MAX_RECORDED = 200
"""Connections recorded per run (each an event and a log line); beyond, only how many more there were."""
MAX_TEXT = 300
"""Characters kept of a recorded host or reason."""
SETTLE_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class Connection:
    """One connection a run asked for: where, the verdict (with the reason of a refusal), and bytes each way."""

    host: str
    port: int
    allowed: bool
    via: str
    """`proxy` (a command in the sandbox) or `webfetch`."""
    method: str = ""
    """`CONNECT`, or the method of a plain HTTP request."""
    reason: str | None = None
    """Why it was refused, or, if allowed, what went wrong (could not connect)."""
    address: str | None = None
    """The address connected to, if allowed."""
    sent: int = 0
    received: int = 0

    def line(self) -> str:
        """The connection as a line of the run's `runtime` log."""
        where = f"{self.host}:{self.port}" if ":" not in self.host else f"[{self.host}]:{self.port}"
        head = f"network {self.via}: {self.method + ' ' if self.method else ''}{where}"
        if not self.allowed:
            return f"{head} refused: {self.reason}"
        note = f" ({self.reason})" if self.reason else ""
        return f"{head} allowed via {self.address}{note}: {self.sent} bytes up, {self.received} down"

    def as_event(self) -> dict[str, Any]:
        """The data of the connection's `run.network` event."""
        return {
            "host": self.host, "port": self.port, "verdict": "allowed" if self.allowed else "refused",
            "reason": self.reason, "via": self.via, "method": self.method or None, "address": self.address,
            "bytesUp": self.sent, "bytesDown": self.received,
        }  # fmt: skip


def network_not_recorded(count: int) -> str:
    """The runtime log's line for connections beyond the run's `MAX_RECORDED`."""
    return f"network: {count} more connection(s) not recorded (a run records at most {MAX_RECORDED})"


@dataclass(frozen=True, slots=True)
class Taken:
    """The connections recorded since the last take, and how many more there were that are not recorded."""

    connections: tuple[Connection, ...] = ()
    not_recorded: int = 0


class ConnectionLog:
    """The connections of one run, kept until the tool call that made them is recorded (`take`)."""

    def __init__(self, max_recorded: int = MAX_RECORDED) -> None:
        self.max_recorded = max_recorded
        self._recorded = 0
        self._kept: list[Connection] = []
        self._dropped = 0
        self._open = 0
        self._none_open = asyncio.Event()
        self._none_open.set()

    def opened(self) -> None:
        """A connection is being handled; `take` waits (a little) for it to end."""
        self._open += 1
        self._none_open.clear()

    def closed(self, connection: Connection) -> None:
        """A connection `opened` has ended: record it."""
        self._open -= 1
        if not self._open:
            self._none_open.set()
        self.add(connection)

    def add(self, connection: Connection) -> None:
        """Record a connection, unless the run has had `max_recorded` already (then it is only counted). What the run
        chose (host, method, a parser's complaint) is cut to `MAX_TEXT` characters."""
        if self._recorded >= self.max_recorded:
            self._dropped += 1
            return
        self._recorded += 1
        reason = connection.reason[:MAX_TEXT] if connection.reason is not None else None
        self._kept.append(
            replace(connection, host=connection.host[:MAX_TEXT], method=connection.method[:20], reason=reason)
        )

    async def take(self, settle_seconds: float = SETTLE_SECONDS) -> Taken:
        """What was recorded since the last take, once the connections under way ended (or `settle_seconds`)."""
        if self._open:
            try:
                async with asyncio.timeout(settle_seconds):
                    await self._none_open.wait()
            except TimeoutError:
                pass
        taken = Taken(tuple(self._kept), self._dropped)
        self._kept, self._dropped = [], 0
        return taken
