"""Inserts that skip rows already stored, on SQLite and PostgreSQL alike."""

from typing import Any

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.storage.models import Base


async def insert_once(session: AsyncSession, table: type[Base], rows: list[dict[str, Any]]) -> None:
    """Insert rows, skipping any whose key is already stored."""
    if not rows:
        return
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
    await session.execute(insert(table).values(rows).on_conflict_do_nothing())
