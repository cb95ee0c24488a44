"""Cursor pages over a table ordered newest first by its `seq` column."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.storage.models import Listed

Row = TypeVar("Row", bound=Listed)


class UnknownCursor(LookupError):
    """The cursor names no object of this organization."""


@dataclass(frozen=True, slots=True)
class PageOf(Generic[Row]):
    """The rows of one page, and the cursor of the next if there is one."""

    rows: Sequence[Row]
    has_more: bool
    next_cursor: str | None


async def fetch_page(
    session: AsyncSession,
    table: type[Row],
    query: Select[Row],
    *,
    org_id: str,
    cursor: str | None,
    limit: int,
) -> PageOf[Row]:
    """Run `query` (already filtered) for the objects created before `cursor`, newest first.

    The order is the table's insertion sequence, not a clock, so objects created while a client pages
    never shift a page: they come before the first page, and no object is listed twice or skipped.
    """
    if cursor:  # an empty cursor means the first page
        cursor_seq = await session.scalar(select(table.seq).where(table.id == cursor, table.org_id == org_id))
        if cursor_seq is None:
            raise UnknownCursor(cursor)
        query = query.where(table.seq < cursor_seq)
    rows = list((await session.scalars(query.order_by(table.seq.desc()).limit(limit + 1))).all())
    has_more = len(rows) > limit
    rows = rows[:limit]
    return PageOf(rows=rows, has_more=has_more, next_cursor=rows[-1].id if has_more else None)
