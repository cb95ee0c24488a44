"""The fields agents and runs share: their limits, and the metadata a run carries."""

from typing import Annotated

from pydantic import Field, StringConstraints, WithJsonSchema

from agentruns.schemas.base import NO_NUL, NO_NUL_PATTERN
from agentruns.schemas.catalog import (
    MAX_COST_MICROS_MAX,
    MAX_DURATION_MS_MAX,
    MAX_DURATION_MS_MIN,
    MAX_MODEL_REQUESTS_MAX,
    METADATA_KEY_MAX_CHARS,
    METADATA_KEY_PATTERN,
    METADATA_MAX_KEYS,
    METADATA_VALUE_MAX_CHARS,
)

MaxDurationMs = Annotated[
    int, Field(ge=MAX_DURATION_MS_MIN, le=MAX_DURATION_MS_MAX, description="Time limit of a run, in ms.")
]
MaxModelRequests = Annotated[int, Field(ge=1, le=MAX_MODEL_REQUESTS_MAX, description="Model requests a run may make.")]
MaxCostMicros = Annotated[
    int, Field(ge=1, le=MAX_COST_MICROS_MAX, description="Cost a run may reach, in millionths of a US dollar.")
]

MetadataKey = Annotated[
    str, StringConstraints(min_length=1, max_length=METADATA_KEY_MAX_CHARS, pattern=METADATA_KEY_PATTERN)
]
MetadataValue = Annotated[str, NO_NUL, StringConstraints(max_length=METADATA_VALUE_MAX_CHARS)]
_METADATA_DESCRIPTION = (
    f"Up to {METADATA_MAX_KEYS} string pairs: keys of 1–{METADATA_KEY_MAX_CHARS} characters (letters, digits, "
    f"`_ . : / -`), values of up to {METADATA_VALUE_MAX_CHARS}."
)
Metadata = Annotated[
    dict[MetadataKey, MetadataValue],
    Field(max_length=METADATA_MAX_KEYS),
    # Pydantic states a key pattern as `patternProperties`, which lets other keys through; this says it exactly.
    WithJsonSchema(
        {
            "type": "object",
            "description": _METADATA_DESCRIPTION,
            "maxProperties": METADATA_MAX_KEYS,
            "propertyNames": {"pattern": METADATA_KEY_PATTERN, "minLength": 1, "maxLength": METADATA_KEY_MAX_CHARS},
            "additionalProperties": {
                "type": "string",
                "maxLength": METADATA_VALUE_MAX_CHARS,
                "pattern": NO_NUL_PATTERN,
            },
        }
    ),
]
"""A run's own labels; the run list filters by them."""
