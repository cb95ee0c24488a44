"""Call the async services from synchronous tests, on one event loop that lives in its own thread."""

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from agentruns.storage.database import Database
from tests.support.workers import TEST_POOL_SIZE

T = TypeVar("T")


class AsyncBridge:
    """A database opened on the portal's loop, and a way to run coroutines there."""

    def __init__(self, portal: BlockingPortal, db: Database) -> None:
        self.portal = portal
        self.db = db

    def call(self, function: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run `function(*args, **kwargs)` on the loop and return its result."""

        async def run() -> T:
            return await function(*args, **kwargs)

        return self.portal.call(run)


@contextmanager
def async_bridge(database_url: str) -> Iterator[AsyncBridge]:
    """A bridge to a database, closed when the block ends."""
    with start_blocking_portal() as portal:
        db = portal.call(lambda: _open(database_url))
        try:
            yield AsyncBridge(portal, db)
        finally:
            portal.call(db.dispose)


async def _open(database_url: str) -> Database:
    return Database(database_url, pool_size=int(TEST_POOL_SIZE))
