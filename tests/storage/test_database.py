"""Database transactions: a Core write commits whole or not at all on both databases; on PostgreSQL, a hard cap on
connections per process, and connects retried while the server refuses them."""

import asyncio
import contextlib
import functools
import secrets
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, insert, select, text

from agentruns import clock
from agentruns.storage.database import Database
from agentruns.storage.models import Worker
from tests.support.databases import needs_postgresql, postgres_database
from tests.support.portal import AsyncBridge
from tests.support.servers import free_port


def test_a_core_write_commits_when_it_returns_and_stores_nothing_when_it_raises(bridge: AsyncBridge) -> None:
    names = [f"w{secrets.token_hex(4)}" for _ in range(3)]

    def add(connection: Connection, name: str, *, then_fail: bool = False) -> str:
        now = clock.now()
        connection.execute(insert(Worker), [{"executor_id": name, "started_at": now, "heartbeat_at": now}])
        if then_fail:
            raise LookupError("after the insert")
        return name

    async def scenario() -> tuple[str, list[str]]:
        added = await bridge.db.write_core(functools.partial(add, name=names[0]))
        with pytest.raises(LookupError):
            await bridge.db.write_core(functools.partial(add, name=names[1], then_fail=True))
        await bridge.db.write_core(functools.partial(add, name=names[2]))
        async with bridge.db.read() as session:
            return added, sorted(await session.scalars(select(Worker.executor_id).where(Worker.executor_id.in_(names))))

    assert bridge.call(scenario) == (names[0], sorted([names[0], names[2]]))


@contextlib.asynccontextmanager
async def forwarder(port: int, target_port: int = 5432) -> AsyncIterator[None]:
    """A TCP forwarder on loopback `port` to the PostgreSQL server, for as long as the block runs."""

    handlers: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        handlers.add(asyncio.current_task())  # pyright: ignore[reportArgumentType]
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        try:
            await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))
        finally:
            for writer in (client_writer, server_writer):
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        yield
    for handler in handlers:
        handler.cancel()
    await asyncio.gather(*handlers, return_exceptions=True)


@needs_postgresql
def test_a_process_never_opens_more_connections_than_its_pool_size() -> None:
    name = f"capcheck{secrets.token_hex(3)}"

    async def scenario(url: str) -> tuple[int, int]:
        db = Database(f"{url}?application_name={name}", pool_size=3)
        peak = 0

        async def transaction() -> None:
            nonlocal peak
            async with db.read() as session:
                await session.execute(text("SELECT pg_sleep(0.05)"))
                count = await session.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"), {"name": name}
                )
                peak = max(peak, int(count or 0))

        await asyncio.gather(*(transaction() for _ in range(30)))
        await db.dispose()
        return peak, 30

    with postgres_database() as url:
        peak, done = asyncio.run(scenario(url))
    assert done == 30
    assert 1 <= peak <= 3


@needs_postgresql
def test_a_refused_connection_is_retried_until_the_server_answers() -> None:
    async def scenario(url: str) -> int:
        port = free_port()
        db = Database(url.replace("127.0.0.1:5432", f"127.0.0.1:{port}"))
        query = asyncio.create_task(_select_one(db))
        await asyncio.sleep(1.0)  # the port refuses connections meanwhile
        assert not query.done()
        async with forwarder(port):
            value = await asyncio.wait_for(query, timeout=30)
            await db.dispose()
        return value

    with postgres_database() as url:
        assert "127.0.0.1:5432" in url
        assert asyncio.run(scenario(url)) == 1


async def _select_one(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(text("SELECT 1")) or 0)


@needs_postgresql
def test_a_psycopg_connection_cut_off_mid_statement_does_not_go_back_to_the_pool() -> None:
    async def scenario(url: str) -> tuple[bool, int]:
        db = Database(url, pool_size=1)
        used: list[psycopg.AsyncConnection[Any]] = []

        async def slow_write() -> None:
            async with db.psycopg_connection() as connection, connection.pipeline(), connection.transaction():
                used.append(connection)
                await connection.execute("SELECT pg_sleep(30)")

        task = asyncio.create_task(slow_write())
        await asyncio.sleep(0.5)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        async with db.read() as session:  # the pool's one connection: a fresh one, ready
            answer = await session.scalar(text("SELECT 1"))
        await db.dispose()
        return used[0].closed, int(answer or 0)

    with postgres_database() as url:
        assert asyncio.run(asyncio.wait_for(scenario(url), 20)) == (True, 1)


@needs_postgresql
def test_a_pipelined_transaction_that_fails_leaves_its_connection_as_the_pool_hands_it_out() -> None:
    async def scenario(url: str) -> tuple[bool, bool, int]:
        db = Database(url, pool_size=1)
        with contextlib.suppress(psycopg.errors.DivisionByZero):
            async with db.pipelined_transaction() as (connection, _):
                await connection.execute("CREATE TEMPORARY TABLE written (n int)")
                await connection.execute("SELECT 1 / 0")
        with contextlib.suppress(RuntimeError):
            async with db.pipelined_transaction() as (connection, pipeline):
                await connection.execute("CREATE TEMPORARY TABLE written (n int)")
                await pipeline.sync()
                raise RuntimeError("the caller gives up midway")
        async with db.psycopg_connection() as connection:  # the pool's one connection
            autocommit, idle = connection.autocommit, connection.info.transaction_status == TransactionStatus.IDLE
            cursor = await connection.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'written'")
            written = (await cursor.fetchone() or (0,))[0]
            await connection.rollback()
        await db.dispose()
        return autocommit, idle, written

    with postgres_database() as url:
        # out of autocommit, outside any transaction, and neither transaction left its table
        assert asyncio.run(asyncio.wait_for(scenario(url), 20)) == (False, True, 0)


@needs_postgresql
def test_a_core_read_leaves_its_connection_s_prepared_statements_in_place() -> None:
    # psycopg prepares a statement the sixth time a connection runs it, and forgets every one at a ROLLBACK: reads
    # that ended by rolling back kept the pool's connections from ever keeping a plan.
    def prepared_after_select(connection: Connection) -> int:
        connection.execute(text("SELECT count(*) FROM pg_class WHERE relname = :name"), {"name": "runs"})
        return int(connection.scalar(text("SELECT count(*) FROM pg_prepared_statements")) or 0)

    async def scenario(url: str) -> list[int]:
        db = Database(url, pool_size=1)
        prepared = [await db.read_core(prepared_after_select) for _ in range(8)]
        await db.dispose()
        return prepared

    with postgres_database() as url:
        prepared = asyncio.run(asyncio.wait_for(scenario(url), 20))
    assert prepared[:5] == [0] * 5  # not yet
    assert prepared[-1] >= 1, prepared
