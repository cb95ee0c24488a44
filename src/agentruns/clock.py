"""The current time, as the timezone-aware UTC timestamps agentruns stores (millisecond precision)."""

from datetime import UTC, datetime


def now() -> datetime:
    """Now, in UTC, cut to milliseconds so SQLite and PostgreSQL store the same value."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
