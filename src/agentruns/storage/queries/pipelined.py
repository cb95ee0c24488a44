"""Core statements sent through psycopg itself, for a connection in pipeline mode (`Database.pipelined_transaction`):
compiled once, their parameters and returned values converted as SQLAlchemy's own execution converts them."""

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, LiteralString, cast

import psycopg
from sqlalchemy import ClauseElement, Dialect, Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

from agentruns.storage.database import Database


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: LiteralString
    defaults: dict[str, Any]
    """Every parameter of the statement with the value it was built with (None for a `bindparam` given at each call)."""
    required: frozenset[str]
    """The parameters each call must give (a `bindparam` without a value)."""
    converters: tuple[tuple[str, Callable[[Any], Any]], ...]
    """The parameters whose type converts the value SQLAlchemy would send (UTC timestamps, JSON)."""


@functools.lru_cache(maxsize=256)  # bounded as the callers' own caches of built statements are (`run_end._ended`)
def _compiled(dialect: Dialect, statement: ClauseElement) -> _Compiled:
    """The statement in psycopg's placeholders, compiled once (statements of these modules are built once each).

    An expanding parameter (`column.in_(values)`) is not supported: SQLAlchemy renders it at each execution.
    """
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
    if "POSTCOMPILE" in compiled.string:
        raise ValueError(f"a statement with an expanding parameter cannot be sent as compiled: {compiled.string}")
    binds = compiled.binds
    converters: list[tuple[str, Callable[[Any], Any]]] = []
    for name, bind in binds.items():
        if (converter := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None:
            converters.append((name, converter))
    defaults: dict[str, Any] = {name: bind.value for name, bind in binds.items()}
    required = frozenset(name for name, bind in binds.items() if bind.required)
    return _Compiled(cast(LiteralString, compiled.string), defaults, required, tuple(converters))


async def execute(
    connection: psycopg.AsyncConnection[Any], dialect: Dialect, statement: ClauseElement, params: Mapping[str, Any]
) -> psycopg.AsyncCursor[Any]:
    """Queue the statement with these parameters on the connection's pipeline; its cursor, whose rows can be read once
    the pipeline has synced."""
    compiled = _compiled(dialect, statement)
    if missing := compiled.required.difference(params):  # as SQLAlchemy refuses it, rather than send a NULL
        raise ValueError(f"no value for the parameters {sorted(missing)} of: {compiled.sql}")
    values = {**compiled.defaults, **params}
    for name, convert in compiled.converters:
        if values[name] is not None:
            values[name] = convert(values[name])
    cursor = connection.cursor()
    await cursor.execute(compiled.sql, values)
    return cursor


def decoded(dialect: Dialect, types: Sequence[TypeEngine[Any]], row: Sequence[Any]) -> tuple[Any, ...]:
    """A row psycopg returned for columns of these types, each value as SQLAlchemy would return it (UTC timestamps,
    JSON)."""
    return tuple(
        value if value is None or (convert := _result_converter(dialect, type_)) is None else convert(value)
        for type_, value in zip(types, row, strict=True)
    )


@functools.cache
def _result_converter(dialect: Dialect, type_: TypeEngine[Any]) -> Callable[[Any], Any] | None:
    return type_.dialect_impl(dialect).result_processor(dialect, None)


async def select_all(db: Database, *reads: tuple[Select[*tuple[Any, ...]], Mapping[str, Any]]) -> list[list[Any]]:
    """Run these reads with their parameters in one transaction and one round trip, where a Core transaction takes one
    for its `BEGIN`, each read and its `COMMIT`; the rows of each, their values as attributes named by the columns and
    converted as a Core row's are."""
    dialect = db.engine.dialect
    async with db.pipelined_transaction() as (connection, _):
        cursors = [await execute(connection, dialect, statement, params) for statement, params in reads]
    fetched: list[list[Any]] = []
    for (statement, _), cursor in zip(reads, cursors, strict=True):
        names, types = _shape(statement)
        rows = await cursor.fetchall()
        fetched.append([SimpleNamespace(**dict(zip(names, decoded(dialect, types, row), strict=True))) for row in rows])
    return fetched


@functools.cache
def _shape(statement: Select[*tuple[Any, ...]]) -> tuple[tuple[str, ...], tuple[TypeEngine[Any], ...]]:
    """The names of the statement's columns and their types."""
    columns = statement.selected_columns
    return tuple(columns.keys()), tuple(column.type for column in columns)
