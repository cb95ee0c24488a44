"""SQLAlchemy's aiosqlite dialect with one hop to the connection's thread per statement, where it took four.

aiosqlite runs each call of the standard library's driver in the connection's own thread and waits for it: the
stock adapter makes four such calls per statement (make a cursor, execute, fetch the rows, close the cursor),
each a queue put, a thread wake-up and a wake-up of the event loop through its self-pipe. This cursor makes all
four in one call and keeps what the rest of SQLAlchemy reads of the cursor afterwards (its description, row
count, last row id and rows). `storage/database.py` registers it as the driver `sqlite+agentruns_aiosqlite`.
"""

import collections
from typing import Any, NamedTuple

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)


class _Executed(NamedTuple):
    """What SQLAlchemy reads of a cursor once its statement ran (the cursor itself is closed by then)."""

    description: Any
    rowcount: int
    lastrowid: int | None
    arraysize: int = 1

    def close(self) -> None:
        return None


_NOTHING_YET = _Executed(description=None, rowcount=-1, lastrowid=None)


def _run(connection: Any, operation: str, parameters: Any, *, many: bool) -> tuple[_Executed, list[Any] | None]:
    """In the connection's thread: run the statement on a cursor of its own, fetch its rows, close the cursor."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else None
        return _Executed(cursor.description, cursor.rowcount, cursor.lastrowid, cursor.arraysize), rows
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose statement, rows and close take one hop to the connection's thread."""

    __slots__ = ()
    _awaitable_cursor_close = False

    def _make_new_cursor(self, connection: Any) -> Any:
        return _NOTHING_YET  # the driver's cursor is made in the thread, with the statement

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._run(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._run(operation, seq_of_parameters, many=True)

    async def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection = self._connection
        async with self._adapt_connection._execute_mutex:  # pyright: ignore[reportPrivateUsage]
            executed, rows = await connection._execute(_run, connection._conn, operation, parameters, many=many)  # pyright: ignore[reportAttributeAccessIssue]
        self._cursor = executed  # pyright: ignore[reportAttributeAccessIssue]
        if rows is not None:
            self._rows = collections.deque(rows)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """aiosqlite's adapted connection, with `OneHopCursor`s."""

    __slots__ = ()
    _cursor_cls = OneHopCursor


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """aiosqlite as SQLAlchemy adapts it, its connections with `OneHopCursor`s."""

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)  # pyright: ignore[reportPrivateUsage]


class OneHopDialect(SQLiteDialect_aiosqlite):
    """The aiosqlite dialect on `OneHopDBAPI`."""

    driver = "agentruns_aiosqlite"
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHopDBAPI:  # pyright: ignore[reportIncompatibleMethodOverride]
        return OneHopDBAPI(__import__("aiosqlite"), __import__("sqlite3"))
