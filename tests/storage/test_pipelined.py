"""Core statements sent through psycopg's pipeline convert their values as SQLAlchemy's own execution does, and a
statement that cannot be sent as compiled is refused."""

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Column, Integer, MetaData, Table, bindparam, insert, select
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

from agentruns.storage.database import Database
from agentruns.storage.models import JSONValue, UTCDateTime
from agentruns.storage.queries import pipelined
from tests.support.databases import needs_postgresql, postgres_database

_STAMPS = Table("stamps", MetaData(), Column("n", Integer), Column("at", UTCDateTime()), Column("doc", JSONValue))


@needs_postgresql
def test_values_go_in_and_come_back_as_sqlalchemy_converts_them() -> None:
    written_at = datetime(2026, 12, 5, 18, 30, tzinfo=timezone(timedelta(hours=9)))
    document = {"steps": [1, 2], "note": None}

    async def scenario(url: str) -> tuple[Any, ...]:
        db = Database(url, pool_size=1)
        dialect = db.engine.dialect
        async with db.pipelined_transaction() as (connection, pipeline):
            await connection.execute("CREATE TEMPORARY TABLE stamps (n int, at timestamptz, doc jsonb)")
            stamp = insert(_STAMPS).values(n=bindparam("n"), at=bindparam("at"), doc=bindparam("doc"))
            await pipelined.execute(connection, dialect, stamp, {"n": 1, "at": written_at, "doc": document})
            await connection.execute("SET LOCAL TIME ZONE 'Asia/Tokyo'")  # psycopg answers in the session's zone
            read = await pipelined.execute(connection, dialect, select(_STAMPS.c.at, _STAMPS.c.doc), {})
            await pipeline.sync()
            row = await read.fetchone()
        await db.dispose()
        assert row is not None
        return pipelined.decoded(dialect, (_STAMPS.c.at.type, _STAMPS.c.doc.type), row)

    with postgres_database() as url:
        at, doc = asyncio.run(asyncio.wait_for(scenario(url), 20))
    assert (at, at.tzinfo, doc) == (written_at, UTC, document)


@needs_postgresql
def test_reads_together_return_each_ones_rows_by_column_name_converted() -> None:
    written_at = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)

    async def scenario(url: str) -> list[list[Any]]:
        db = Database(url, pool_size=1)
        by_number = select(_STAMPS.c.n, _STAMPS.c.at, _STAMPS.c.doc).where(_STAMPS.c.n == bindparam("n"))
        read = await pipelined.select_all(db, (by_number, {"n": 1}), (by_number, {"n": 2}))
        await db.dispose()
        return read

    with postgres_database() as url:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("CREATE TABLE stamps (n int, at timestamptz, doc jsonb)")
            admin.execute("INSERT INTO stamps VALUES (1, %s, '{\"a\": [1]}')", (written_at,))
            admin.execute(
                sql.SQL("ALTER DATABASE {} SET timezone = 'Asia/Tokyo'").format(sql.Identifier(url.rsplit("/", 1)[1]))
            )
        first, second = asyncio.run(asyncio.wait_for(scenario(url), 20))
    assert [(row.n, row.at, row.at.tzinfo, row.doc) for row in first] == [(1, written_at, UTC, {"a": [1]})]
    assert second == []


def test_a_statement_with_an_expanding_parameter_or_without_a_parameters_value_is_refused() -> None:
    dialect = psycopg_dialect.dialect()
    by_number = select(_STAMPS.c.n).where(_STAMPS.c.n == bindparam("n"))
    with pytest.raises(ValueError, match=r"no value for the parameters \['n'\]"):
        asyncio.run(pipelined.execute(None, dialect, by_number, {}))  # type: ignore[arg-type]  # refused before the connection is used
    with pytest.raises(ValueError, match="expanding parameter"):
        asyncio.run(pipelined.execute(None, dialect, select(_STAMPS.c.n).where(_STAMPS.c.n.in_([1, 2])), {}))  # type: ignore[arg-type]  # refused before the connection is used
