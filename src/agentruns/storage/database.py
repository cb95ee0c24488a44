"""Database URLs, engines and transactions for the embedded SQLite file and for PostgreSQL."""

import asyncio
import logging
import random
import time
from collections.abc import AsyncGenerator, Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar, cast

import psycopg
from sqlalchemy import Connection, create_engine, event
from sqlalchemy.dialects import registry
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session

log = logging.getLogger("agentruns.database")

# aiosqlite with one thread hop per statement instead of four (`storage/sqlite_driver.py`).
registry.register("sqlite.agentruns_aiosqlite", "agentruns.storage.sqlite_driver", "OneHopDialect")

T = TypeVar("T")

# How long a new PostgreSQL connection is retried (server restarting, "too many clients") before the
# transaction that needed it fails; no statement has run yet, so retrying is always safe.
CONNECT_RETRY_SECONDS = 60.0


_ON_COMMIT = "agentruns.on_commit"
"""The key of `Session.info` under which a transaction keeps what to do once it commits (`on_commit`)."""


def on_commit(session: AsyncSession, key: Hashable, action: Callable[[], None]) -> None:
    """Do `action` once the session's transaction commits, and not if it rolls back; an action under a `key`
    already given is done once. One listener per process serves every session: registering one per call cost
    more than the statements it followed."""
    session.info.setdefault(_ON_COMMIT, {})[key] = action


@event.listens_for(Session, "after_commit")
def _run_on_commit(session: Session) -> None:
    for action in session.info.pop(_ON_COMMIT, {}).values():
        action()


@event.listens_for(Session, "after_rollback")
def _drop_on_commit(session: Session) -> None:
    session.info.pop(_ON_COMMIT, None)


class DatabaseKind(StrEnum):
    """The two databases agentruns runs on."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


class DatabaseUrlError(ValueError):
    """The configured database URL names a database agentruns does not run on."""


def parse_database_url(url: str) -> tuple[DatabaseKind, URL]:
    """Split a user's URL (`sqlite:///file`, `postgresql://…`) into its kind and a parsed URL."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise DatabaseUrlError(f"AGENTRUNS_DATABASE_URL is not a database URL: {url!r}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise DatabaseUrlError("agentruns needs a SQLite file (sqlite:///path/file.db), not :memory:")
        return DatabaseKind.SQLITE, parsed
    if backend in ("postgresql", "postgres"):
        return DatabaseKind.POSTGRESQL, parsed.set(drivername="postgresql")
    raise DatabaseUrlError(f"AGENTRUNS_DATABASE_URL must start with sqlite:/// or postgresql://, not {url!r}")


def driver_url(url: str, *, asynchronous: bool) -> URL:
    """The SQLAlchemy URL with the driver agentruns uses: aiosqlite/sqlite3 or psycopg 3."""
    kind, parsed = parse_database_url(url)
    if kind is DatabaseKind.SQLITE:
        return parsed.set(drivername="sqlite+agentruns_aiosqlite" if asynchronous else "sqlite")
    return parsed.set(drivername="postgresql+psycopg_async" if asynchronous else "postgresql+psycopg")


def system_database_url(url: str) -> str:
    """The same database as DBOS wants it named (`sqlite:///…` or `postgresql://…`)."""
    _, parsed = parse_database_url(url)
    return parsed.render_as_string(hide_password=False)


def ensure_sqlite_directory(url: str) -> None:
    """Create the directory of a SQLite file on first start."""
    kind, parsed = parse_database_url(url)
    if kind is DatabaseKind.SQLITE and parsed.database:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def install_sqlite_pragmas(engine: Any) -> None:
    """Put every SQLite connection in WAL mode with a busy timeout, and let us issue BEGIN ourselves.

    pysqlite's own transaction handling starts transactions late and cannot say `BEGIN IMMEDIATE`;
    a write transaction that starts as a reader can then fail with "database is locked" when it
    upgrades. Writers therefore begin with `BEGIN IMMEDIATE` (see `Database.write`).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def retry_postgresql_connects(engine: Any, *, retry_seconds: float = CONNECT_RETRY_SECONDS) -> None:
    """Make each new PostgreSQL connection retry with backoff and jitter instead of failing at once."""

    async def connect(*args: Any, **kwargs: Any) -> psycopg.AsyncConnection[Any]:
        deadline = time.monotonic() + retry_seconds
        delay = 0.1
        while True:
            try:
                return await psycopg.AsyncConnection.connect(*args, **kwargs)
            except psycopg.OperationalError as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("cannot connect to PostgreSQL (%s); retrying in %.1f s", str(exc).strip(), delay)
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 5.0)

    @event.listens_for(engine, "do_connect")
    def _on_connect(_dialect: Any, _record: Any, _args: Any, params: dict[str, Any]) -> None:
        params["async_creator_fn"] = connect  # psycopg's async dialect calls it with the usual arguments


class Database:
    """One engine and the two kinds of transaction the services open on it."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        """`pool_size` bounds this process's connections to PostgreSQL (SQLite opens what it needs)."""
        self.url = url
        self.kind, _ = parse_database_url(url)
        ensure_sqlite_directory(url)
        options: dict[str, Any] = {}
        if self.kind is DatabaseKind.POSTGRESQL:
            # No ping on every checkout (a round trip per transaction); connections are recycled instead,
            # and a dropped one fails a single transaction, which callers retry or report. A hard cap (no
            # overflow) keeps a fleet's processes within the server's max_connections; waiters queue.
            options |= {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": 120, "pool_recycle": 1800}
        self.engine: AsyncEngine = create_async_engine(driver_url(url, asynchronous=True), **options)
        if self.kind is DatabaseKind.SQLITE:
            install_sqlite_pragmas(self.engine.sync_engine)
        else:
            retry_postgresql_connects(self.engine.sync_engine)
        self._readers = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writers = async_sessionmaker(
            self.engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        )
        self._sqlite_writer: _SqliteWriter | None = None

    @asynccontextmanager
    async def read(self) -> AsyncGenerator[AsyncSession]:
        """A read-only transaction."""
        async with self._readers() as session, session.begin():
            yield session

    async def read_core(self, statements: Callable[[Connection], T]) -> T:
        """Run `statements`, a plain function of Core statements on a connection, in one read-only transaction; its
        result. One greenlet for them all and no ORM session: for a read on a run's hot path (its start)."""
        async with self.engine.connect() as connection:
            result = await connection.run_sync(statements)
            # Ended by a COMMIT, not the ROLLBACK of an unfinished one: psycopg forgets the connection's prepared
            # statements at every ROLLBACK, and PostgreSQL would then plan each statement of its next users anew.
            await connection.commit()
            return result

    @asynccontextmanager
    async def write(self) -> AsyncGenerator[AsyncSession]:
        """A transaction that writes: committed when the block ends, rolled back if it raises."""
        async with self._writers() as session, session.begin():
            yield session

    @asynccontextmanager
    async def psycopg_connection(self) -> AsyncGenerator[psycopg.AsyncConnection[Any]]:
        """A pooled PostgreSQL connection as psycopg's own `AsyncConnection`, outside any transaction: for statements
        sent together in pipeline mode (`storage/queries/audit.py`)."""
        async with self.engine.connect() as connection:
            driver = cast(psycopg.AsyncConnection[Any], (await connection.get_raw_connection()).driver_connection)
            yield driver  # one left broken or mid-statement fails its reset on return, and the pool drops it

    @asynccontextmanager
    async def pipelined_transaction(
        self,
    ) -> AsyncGenerator[tuple[psycopg.AsyncConnection[Any], psycopg.AsyncPipeline]]:
        """A PostgreSQL transaction whose statements psycopg sends in pipeline mode with its BEGIN and COMMIT, and one
        sync for all: one round trip. (`connection.transaction()` in a pipeline syncs after its BEGIN, before and after
        its COMMIT, and the pipeline once more at its end: four.) The block may `sync()` the pipeline to read a result
        before it goes on. Committed when the block ends, rolled back if it raises.

        The connection is in autocommit mode meanwhile, so that BEGIN and COMMIT are the ones queued here (psycopg
        syncs after a BEGIN of its own); it leaves the block out of it, or closed, so the pool drops it.
        """
        async with self.psycopg_connection() as connection:
            await connection.set_autocommit(True)
            try:
                async with connection.pipeline() as pipeline:
                    await connection.execute("BEGIN")
                    yield connection, pipeline
                    await connection.execute("COMMIT")
            except BaseException:
                await _roll_back_or_close(connection)
                raise
            finally:
                await _leave_autocommit_or_close(connection)

    async def write_core(self, statements: Callable[[Connection], T]) -> T:
        """Run `statements`, a plain function of Core statements on a connection, in one transaction that writes;
        its result.

        On SQLite the function runs in one hop to this process's SQLite writer thread, on the standard library's
        driver, where aiosqlite hops to its thread and back for every cursor call (about 35 a transaction of six
        statements, 4 ms of CPU against 1): the step's write takes this path (`storage/queries/audit.py`). On
        PostgreSQL it runs in one greenlet on a pooled connection, without an ORM session (the step's write there
        sends its statements in psycopg's pipeline mode instead).
        """
        if self.kind is DatabaseKind.POSTGRESQL:
            async with self.engine.begin() as connection:
                return await connection.run_sync(statements)
        if self._sqlite_writer is None:
            self._sqlite_writer = _SqliteWriter(self.url)
        return await self._sqlite_writer.write(statements)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        if self._sqlite_writer is not None:
            writer, self._sqlite_writer = self._sqlite_writer, None
            await writer.close()


async def _roll_back_or_close(connection: psycopg.AsyncConnection[Any]) -> None:
    """End the connection's transaction that failed or was interrupted, or close the connection if it cannot."""
    try:
        await connection.rollback()
    except BaseException:
        await connection.close()
        raise


async def _leave_autocommit_or_close(connection: psycopg.AsyncConnection[Any]) -> None:
    """Put the connection back out of autocommit mode, as the pool hands it out, or close it if it cannot be (broken,
    or still in a transaction): a pooled connection in autocommit mode would commit each statement of its next user."""
    if connection.closed:
        return
    try:
        await connection.set_autocommit(False)
    except BaseException:
        await connection.close()
        raise


class _SqliteWriter:
    """A SQLite file's synchronous engine and the one thread that writes with it: SQLite has one writer at a time
    anyway, and a connection stays in the thread that made it."""

    def __init__(self, url: str) -> None:
        self._engine = create_engine(driver_url(url, asynchronous=False))
        install_sqlite_pragmas(self._engine)
        self._writers = self._engine.execution_options(sqlite_begin="IMMEDIATE")
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agentruns-sqlite-writer")

    async def write(self, statements: Callable[[Connection], T]) -> T:
        def transaction() -> T:
            with self._writers.begin() as connection:
                return statements(connection)

        return await asyncio.get_running_loop().run_in_executor(self._thread, transaction)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._engine.dispose)
        self._thread.shutdown()
