"""Base classes for wire models: camelCase on the wire, strict on the way in, lenient on the way out."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer, StringConstraints
from pydantic.alias_generators import to_camel


def _iso_utc(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(_iso_utc, return_type=str, when_used="json")]
"""An ISO-8601 UTC timestamp with milliseconds, such as `2026-03-01T12:00:00.000Z`."""


NO_NUL_PATTERN = r"^[^\x00]*$"
"""Request text never holds U+0000: PostgreSQL cannot store it, and no prompt or name needs it."""


NO_NUL = StringConstraints(pattern=NO_NUL_PATTERN)
Text = Annotated[str, NO_NUL]
"""A request string: any text but U+0000."""


class RequestModel(BaseModel):
    """A request body: unknown fields are refused so that a misspelt field is never silently ignored."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, extra="forbid")


class ResponseModel(BaseModel):
    """A response body: camelCase out; unknown fields are ignored so older clients read newer servers."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )


class Page(ResponseModel):
    """The paging fields shared by every list answer."""

    has_more: bool
    next_cursor: str | None = None
