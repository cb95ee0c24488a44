"""Inserts that skip rows already stored, on SQLite and PostgreSQL alike."""

import functools
from collections.abc import Callable
from typing import Any, LiteralString, cast

import psycopg
from sqlalchemy import Connection, Dialect, Insert, Table, inspect
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.storage.models import Base


def table_of(model: type[Base]) -> Table:
    """The model's table, for Core statements: they skip the ORM's per-statement work."""
    return cast(Table, model.__table__)


@functools.cache
def _renamed(model: type[Base]) -> dict[str, str] | None:
    """The model's attribute names → column names, if any differ (`metadata_` → `metadata`)."""
    names = {attribute.key: attribute.columns[0].key for attribute in inspect(model).column_attrs}
    return names if any(attribute != column for attribute, column in names.items()) else None


@functools.cache
def _insert_once_statement(dialect: str, model: type[Base]) -> Insert:
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    return insert(table_of(model)).on_conflict_do_nothing()


async def insert_once(session: AsyncSession, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Insert rows (keyed by the model's attribute names, each row with the same keys), skipping any whose key
    is already stored.

    A Core insert of the table, built once, with the rows as parameters: SQLAlchemy compiles it once per shape
    and caches it, where an insert of `.values(rows)` through the ORM was compiled anew for every call.
    """
    if rows:
        await session.execute(_insert_once_statement(session.get_bind().dialect.name, model), by_column(model, rows))


def insert_once_on(connection: Connection, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """`insert_once` on a Core connection (`Database.write_core`)."""
    if rows:
        connection.execute(_insert_once_statement(connection.dialect.name, model), by_column(model, rows))


def by_column(model: type[Base], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows keyed by the model's attribute names, keyed by its columns' instead: the parameters of a Core statement of
    its table."""
    renamed = _renamed(model)
    return rows if renamed is None else [{renamed[key]: value for key, value in row.items()} for row in rows]


@functools.cache
def _postgresql_insert_once(
    dialect: Dialect, model: type[Base], count: int
) -> tuple[LiteralString, list[tuple[str, Callable[[Any], Any] | None]]]:
    """The model's insert-once of `count` rows in one statement, in psycopg's placeholders, and for each column the
    row key that holds its value and the bind processor that SQLAlchemy's own statements apply to it (JSONB, UTC
    timestamps)."""
    table = table_of(model)
    renamed = _renamed(model) or {}
    keys = {column: attribute for attribute, column in renamed.items()}
    columns = list(table.columns)
    row = f"({', '.join('%s' for _ in columns)})"
    sql = cast(
        LiteralString,
        (
            f"INSERT INTO {table.name} ({', '.join(column.name for column in columns)}) "  # noqa: S608  # our own names
            f"VALUES {', '.join(row for _ in range(count))} ON CONFLICT DO NOTHING"
        ),
    )
    return sql, [(keys.get(column.key, column.key), column.type.dialect_impl(dialect).bind_processor(dialect))
                 for column in columns]  # fmt: skip


PIPELINED_ROWS = 100
"""Rows per statement of `insert_once_pipelined`: a record has a few; far below PostgreSQL's 65,535 parameters."""


async def insert_once_pipelined(
    cursor: psycopg.AsyncCursor[Any], dialect: Dialect, model: type[Base], rows: list[dict[str, Any]]
) -> None:
    """`insert_once` on PostgreSQL through psycopg itself, for a connection in pipeline mode: the statement goes out
    with the others of the transaction in one round trip (`storage/queries/audit.py`), all the rows in one statement
    (a statement per row cost PostgreSQL as much as a row)."""
    for first in range(0, len(rows), PIPELINED_ROWS):
        batch = rows[first : first + PIPELINED_ROWS]
        sql, columns = _postgresql_insert_once(dialect, model, len(batch))
        params = [row[key] if process is None else process(row[key]) for row in batch for key, process in columns]
        await cursor.execute(sql, params)
