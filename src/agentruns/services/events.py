"""Event stream use cases: where a client resumes, and opening a run's stream for its organization."""

from collections.abc import AsyncIterator, Sequence

from agentruns.events.feed import FeedSeconds
from agentruns.events.stream import follow
from agentruns.events.streamed import StreamedEvent
from agentruns.services.runs import run_not_found
from agentruns.storage.database import Database
from agentruns.storage.queries import runs


def resume_after(query: int | None, header: int | None) -> int:
    """The last event the client has: the `Last-Event-ID` header wins over `lastEventId`, because a browser's
    EventSource reconnects with the header and its original URL; neither means from the start."""
    if header is not None:
        return header
    return query if query is not None else 0


async def open_stream(
    db: Database, org_id: str, run_id: str, after: int, *, seconds: FeedSeconds
) -> AsyncIterator[Sequence[StreamedEvent]]:
    """The run's events after `after` in batches, live until the run ends; a run the organization does not
    have is `NotFound` here, before the stream starts."""
    async with db.read() as session:
        if await runs.get(session, org_id, run_id) is None:
            raise run_not_found(run_id)
    return follow(db, run_id, after, seconds=seconds)
