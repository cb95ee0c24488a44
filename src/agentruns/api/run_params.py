"""Parameters of the run routes beyond the shared ones: the `Idempotency-Key` header and the metadata filter."""

import re
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response

from agentruns.errors import InvalidInput
from agentruns.schemas.base import NO_NUL_PATTERN
from agentruns.schemas.catalog import METADATA_KEY_MAX_CHARS, METADATA_KEY_PATTERN, METADATA_MAX_KEYS
from agentruns.schemas.errors import FieldError

IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
REPLAYED_HEADER = "Idempotent-Replayed"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="1–255 visible ASCII characters. The same key with the same body answers the same run (with "
        f"`{REPLAYED_HEADER}: true`); with another body, 409.",
    ),
]

_METADATA_PARAMETER = re.compile(r"^metadata\[(.*)\]$")


async def _metadata_filter(request: Request) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if not name.startswith("metadata"):
            continue
        match = _METADATA_PARAMETER.match(name)
        key = match.group(1) if match else ""
        problem = None
        if match is None:
            problem = "filter by metadata as `metadata[KEY]=VALUE`"
        elif not (0 < len(key) <= METADATA_KEY_MAX_CHARS and re.match(METADATA_KEY_PATTERN, key)):
            problem = f"a metadata key has 1–{METADATA_KEY_MAX_CHARS} letters, digits or `_ . : / -`"
        elif key in found:
            problem = "the same metadata key is given twice"
        elif len(found) == METADATA_MAX_KEYS:
            problem = f"at most {METADATA_MAX_KEYS} metadata filters"
        elif "\x00" in value:
            problem = "must not contain the NUL character"
        if problem is not None:
            field = f"query.{name}"
            raise InvalidInput(f"{field}: {problem}", details=[FieldError(field=field, message=problem)])
        found[key] = value
    return found


MetadataFilter = Annotated[dict[str, str], Depends(_metadata_filter)]
"""The `metadata[KEY]=VALUE` query parameters: runs whose metadata has every one of these values."""

METADATA_FILTER_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": "metadata",
            "in": "query",
            "required": False,
            "style": "deepObject",
            "explode": True,
            "schema": {
                "type": "object",
                "maxProperties": METADATA_MAX_KEYS,
                "propertyNames": {"pattern": METADATA_KEY_PATTERN, "minLength": 1, "maxLength": METADATA_KEY_MAX_CHARS},
                "additionalProperties": {"type": "string", "pattern": NO_NUL_PATTERN},
            },
            "description": "`metadata[KEY]=VALUE`: only runs whose metadata has this value for this key (several "
            "are ANDed).",
        }
    ]
}


def mark_replayed(response: Response, replayed: bool) -> None:
    """Say on the response that it repeats the answer of an earlier request with the same `Idempotency-Key`."""
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
