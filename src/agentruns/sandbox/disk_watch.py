"""The disk limits of a workspace: a watch beside each command that ends when the workspace passes them, and a
check before each write of the file tools.

There is no quota on the workspace's file system, so the workspace is measured (`usage.measure`, as the jail's
host user): when a command starts, then again as soon as its file system (all of it: one `statvfs` every
POLL_SECONDS) has grown by half of what the workspace may still take, in bytes or in entries, and otherwise after
QUIET_CHECK_SECONDS (or twice as long as the last measure took, if that is longer). A run that writes fast
overshoots its limit by at most what it writes in POLL_SECONDS and two measures (what one measure counts is as
old as the measure), and `max_entries` bounds how long a measure takes; a measure stops as soon as it has
counted more than the limit (docs/sandboxes.md gives the figures). A quiet file system costs a `statvfs` per
POLL_SECONDS.
"""

import asyncio
import errno
import os
import time
from dataclasses import dataclass
from pathlib import Path

from agentruns.sandbox import jail_user
from agentruns.sandbox.jail_user import Owner
from agentruns.sandbox.usage import Usage, measure

POLL_SECONDS = 0.05
"""How often a running command's file system is looked at: the trigger of a new measure."""
QUIET_CHECK_SECONDS = 2.0
"""How long a running command's workspace goes unmeasured at most, whatever its file system shows."""


@dataclass(frozen=True, slots=True)
class DiskLimits:
    """What a workspace may take: MiB on disk and entries (files, directories, links)."""

    max_mib: int
    max_entries: int


def over_limit_message(limit_mib: int) -> str:
    """What a command killed, or a write refused, for a full workspace says."""
    return f"the workspace went over its disk limit of {limit_mib} MiB: delete files to go on"


class DiskWatch:
    """The measures of one workspace, made as its jail's host user; the last one is the next command's baseline."""

    def __init__(self, workspace: Path, limits: DiskLimits, owner: Owner | None) -> None:
        self.workspace = workspace
        self.limits = limits
        self.owner = owner
        self.last: Usage | None = None
        """The latest measure, if any."""

    async def measure(self, *, stop_above: int | None = None) -> Usage:
        """Measure the workspace now (and keep it as `last`), stopping once it takes more than `stop_above` bytes.

        Raises:
            OSError: It could not be measured.
        """
        self.last = await jail_user.call_reading_directories(
            self.owner, measure, self.workspace, max_entries=self.limits.max_entries, stop_above=stop_above
        )
        return self.last

    def _passed(self, used: Usage, baseline: Usage) -> str | None:
        """What limit `used` passed since `baseline`: a command may run in a full workspace, to delete files,
        but not add to it."""
        if used.over is not None and baseline.over is None:
            return f"the workspace went over its limits: {used.over}; delete files to go on"
        if used.bytes > self.limits.max_mib * 1024 * 1024 and used.bytes > baseline.bytes:
            return over_limit_message(self.limits.max_mib)
        return None

    async def until_full(self) -> str:
        """Return, with the reason, once the workspace passes its limits and holds more than when the command
        began (see the module's docstring for when it is measured)."""
        baseline = self.last if self.last is not None else await self.measure()
        if baseline.bytes > self.limits.max_mib * 1024 * 1024:
            # The measure that killed the command before stopped as soon as it passed the limit, and the command wrote
            # on until it died: a floor is no baseline (this command would pass it at once). Count it all.
            baseline = await self.measure()
        # A measure stops as soon as it has counted enough to kill: its count is a floor of what the workspace takes.
        enough = max(self.limits.max_mib * 1024 * 1024, baseline.bytes)
        while True:
            seen = _filesystem_use(self.workspace)
            began = time.monotonic()
            try:
                used = await self.measure(stop_above=enough)
            except OSError:  # an unreadable corner: measure again next time rather than kill or give up
                used = baseline
            if reason := self._passed(used, baseline):
                return reason
            took = time.monotonic() - began
            room = (
                max(self.limits.max_mib * 1024 * 1024 - used.bytes, 0),
                max(self.limits.max_entries - used.entries, 0),
            )
            await self._until_grown(seen, room, latest=began + max(QUIET_CHECK_SECONDS, 2 * took))

    async def _until_grown(self, seen: tuple[int, int], room: tuple[int, int], *, latest: float) -> None:
        """Wait until the file system has grown by half of `room` (bytes, inodes) since `seen`, or until `latest`."""
        while True:
            await asyncio.sleep(POLL_SECONDS)
            if time.monotonic() >= latest:
                return
            used_bytes, used_inodes = _filesystem_use(self.workspace)
            if (used_bytes - seen[0]) * 2 > room[0] or (used_inodes - seen[1]) * 2 > room[1]:
                return

    async def check_room(self, adding: int) -> None:
        """Refuse a write of `adding` bytes that would take the workspace over its limits (counting the file it
        replaces, if any, as staying: a rewrite close to the limit may be refused).

        Raises:
            OSError: EDQUOT, with `over_limit_message` or the limit it passed.
        """
        used = await self.measure()
        if used.over is not None:
            raise OSError(errno.EDQUOT, f"the workspace is over its limits: {used.over}")
        if used.bytes + adding > self.limits.max_mib * 1024 * 1024:
            raise OSError(errno.EDQUOT, over_limit_message(self.limits.max_mib))


def _filesystem_use(workspace: Path) -> tuple[int, int]:
    """The bytes and inodes in use on the workspace's file system (all of it, not only the workspace)."""
    try:
        info = os.statvfs(workspace)
    except OSError:
        return 0, 0
    return (info.f_blocks - info.f_bfree) * info.f_frsize, info.f_files - info.f_ffree
