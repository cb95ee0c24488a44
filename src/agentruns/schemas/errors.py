"""The error envelope every failure answers with: `{"error": {"code", "message"}}`."""

from enum import StrEnum

from agentruns.schemas.base import ResponseModel


class ErrorCode(StrEnum):
    """The contract's error codes (plus NOT_IMPLEMENTED for routes that are not served yet)."""

    INVALID_INPUT = "INVALID_INPUT"
    AUTHORIZATION_ERROR = "AUTHORIZATION_ERROR"
    RESOURCE_NOT_FOUND = "RESOURCE_NOT_FOUND"
    CONFLICT = "CONFLICT"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    TIMEOUT = "TIMEOUT"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    NOT_IMPLEMENTED = "NOT_IMPLEMENTED"


class FieldError(ResponseModel):
    """One invalid field of a request: where it is and what is wrong with it."""

    field: str
    message: str


class ErrorBody(ResponseModel):
    """What went wrong."""

    code: ErrorCode
    message: str
    details: list[FieldError] | None = None


class ErrorResponse(ResponseModel):
    """The body of every answer with a 4xx or 5xx status."""

    error: ErrorBody
