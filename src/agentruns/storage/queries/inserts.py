"""Inserts that skip rows already stored, on SQLite and PostgreSQL alike."""

import functools
from typing import Any, cast

from sqlalchemy import Connection, Insert, Table, inspect
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
