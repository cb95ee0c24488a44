"""The one-hop aiosqlite driver answers as the stock one does: rows, row counts, last row ids, many rows at once,
RETURNING, errors, and the one connection's transactions."""

import asyncio
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from agentruns.storage.database import driver_url


def _answers(path: Path, driver: str) -> dict[str, object]:
    async def scenario() -> dict[str, object]:
        engine = create_async_engine(f"sqlite+{driver}:///{path}")
        answers: dict[str, object] = {}
        try:
            async with engine.begin() as connection:
                await connection.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
                inserted = await connection.execute(text("INSERT INTO items (name) VALUES ('a')"))
                answers["lastrowid"] = inserted.lastrowid
                names = [{"name": "b"}, {"name": "c"}]
                many = await connection.execute(text("INSERT INTO items (name) VALUES (:name)"), names)
                answers["many"] = many.rowcount
                updated = await connection.execute(text("UPDATE items SET name = name || '!' WHERE id > 1"))
                answers["updated"] = updated.rowcount
                returned = await connection.execute(text("DELETE FROM items WHERE id = 3 RETURNING id, name"))
                answers["returning"] = [tuple(row) for row in returned]
                rows = await connection.execute(text("SELECT id, name FROM items ORDER BY id"))
                answers["columns"] = list(rows.keys())
                answers["rows"] = [tuple(row) for row in rows]
            try:
                async with engine.begin() as connection:
                    await connection.execute(text("INSERT INTO items (name) VALUES ('d')"))
                    await connection.execute(text("INSERT INTO items (name) VALUES ('a')"))
            except IntegrityError as exc:
                answers["error"] = type(exc.orig).__name__
            async with engine.connect() as connection:  # the failed transaction left nothing
                answers["after the error"] = (await connection.execute(text("SELECT count(*) FROM items"))).scalar()
        finally:
            await engine.dispose()
        return answers

    return asyncio.run(scenario())


def test_the_one_hop_driver_answers_as_aiosqlite_does(tmp_path: Path) -> None:
    stock = _answers(tmp_path / "stock.db", "aiosqlite")
    one_hop = _answers(tmp_path / "one-hop.db", "agentruns_aiosqlite")

    assert one_hop == stock
    assert one_hop == {
        "lastrowid": 1,
        "many": 2,
        "updated": 2,
        "returning": [(3, "c!")],
        "columns": ["id", "name"],
        "rows": [(1, "a"), (2, "b!")],
        "error": "IntegrityError",
        "after the error": 2,
    }


def test_the_services_use_the_one_hop_driver(tmp_path: Path) -> None:
    assert driver_url(f"sqlite:///{tmp_path / 'x.db'}", asynchronous=True).drivername == "sqlite+agentruns_aiosqlite"
