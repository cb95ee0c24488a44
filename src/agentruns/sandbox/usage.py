"""How much disk a workspace takes, and a watch that ends when it takes more than its limit."""

import asyncio
import errno
import os
import stat
import time
from pathlib import Path

MIN_CHECK_SECONDS = 0.2
"""How often a running command's workspace is measured at most; a large tree is measured less often."""
CHECK_SHARE = 0.05
"""The share of one core that measuring a large workspace may take while a command runs."""


def disk_bytes(workspace: Path) -> int:
    """The bytes the workspace's files take on disk (allocated blocks, each inode once, symlinks not followed)."""
    total = 0
    seen: set[tuple[int, int]] = set()
    pending = [str(workspace)]
    while pending:
        try:
            entries = os.scandir(pending.pop())
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue  # removed while it was measured, or not ours to read
        with entries:
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if (info.st_dev, info.st_ino) in seen:
                    continue
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
                if stat.S_ISDIR(info.st_mode):
                    pending.append(entry.path)
    return total


def over_limit_message(limit_mib: int) -> str:
    """What a command killed, or a write refused, for a full workspace says."""
    return f"the workspace went over its disk limit of {limit_mib} MiB: delete files to go on"


async def until_full(workspace: Path, limit_mib: int) -> str:
    """Return, with the reason, once the workspace takes more than `limit_mib` on disk and more than when
    the watch began: a command may still run in a full workspace, to delete files, but not add to it.

    It is measured every MIN_CHECK_SECONDS, or less often when measuring takes long (at most CHECK_SHARE
    of a core), so a fast writer may overshoot the limit by what it writes in that time.
    """
    limit = limit_mib * 1024 * 1024
    at_start: int | None = None
    while True:
        began = time.monotonic()
        try:
            used = await asyncio.to_thread(disk_bytes, workspace)
        except OSError:  # an unreadable corner: measure again next time rather than kill or give up
            pass
        else:
            if at_start is None:
                at_start = used
            elif used > limit and used > at_start:
                return over_limit_message(limit_mib)
        await asyncio.sleep(max(MIN_CHECK_SECONDS, (time.monotonic() - began) / CHECK_SHARE))


async def check_room(workspace: Path, adding: int, limit_mib: int) -> None:
    """Refuse a write of `adding` bytes that would take the workspace over `limit_mib` (counting the file it
    replaces, if any, as staying: a rewrite close to the limit may be refused).

    Raises:
        OSError: EDQUOT, with `over_limit_message`.
    """
    used = await asyncio.to_thread(disk_bytes, workspace)
    if used + adding > limit_mib * 1024 * 1024:
        raise OSError(errno.EDQUOT, over_limit_message(limit_mib))
