"""Whether a local workspace has room for a file, checked before a file tool makes the bytes it would write."""

from agentruns.sandbox import jail_user
from agentruns.sandbox.availability import LOCAL_PROVIDERS
from agentruns.sandbox.disk_watch import DiskLimits, DiskWatch
from agentruns.sandbox.protocol import Sandbox


async def check_room(sandbox: Sandbox, limits: DiskLimits, adding: int) -> None:
    """Refuse `adding` bytes that would take the sandbox's workspace over `limits`, as its `write_file` would
    (a remote provider's workspace is its own to check).

    Raises:
        OSError: EDQUOT, saying which limit.
    """
    if sandbox.provider not in LOCAL_PROVIDERS:
        return
    watch = DiskWatch(sandbox.workspace, limits, jail_user.owner_of(sandbox.workspace))
    await watch.check_room(adding)
