"""The contract's error code and message for whatever made a run fail (a model provider's error, a bug)."""

from pydantic_ai.exceptions import (
    ModelAuthenticationError,
    ModelNotFoundError,
    ModelQuotaExceededError,
    ModelRateLimitError,
    ModelRequestRejectedError,
    ModelRequestTimeout,
    ModelTimeoutError,
)

from agentruns.schemas.errors import ErrorCode

# The most specific class first: several of them are subclasses of others.
_CODES: tuple[tuple[type[Exception], ErrorCode, str], ...] = (
    (ModelAuthenticationError, ErrorCode.AUTHORIZATION_ERROR, "the model provider refused the credentials"),
    (ModelNotFoundError, ErrorCode.RESOURCE_NOT_FOUND, "the model provider does not know the model"),
    (ModelRequestRejectedError, ErrorCode.INVALID_INPUT, "the model provider rejected the request"),
    (ModelRateLimitError, ErrorCode.RATE_LIMIT_EXCEEDED, "the model provider's rate limit was reached"),
    (ModelQuotaExceededError, ErrorCode.RATE_LIMIT_EXCEEDED, "the model provider's quota is exhausted"),
    (ModelTimeoutError, ErrorCode.TIMEOUT, "the model provider did not answer in time"),
    (ModelRequestTimeout, ErrorCode.TIMEOUT, "the model provider did not answer in time"),
)


def failure(exc: Exception) -> tuple[ErrorCode, str]:
    """The code and message a run that failed with `exc` shows in its `error`."""
    detail = f"{type(exc).__name__}: {exc}"
    for kind, code, what in _CODES:
        if isinstance(exc, kind):
            return code, f"{what}, after its retries: {detail}"
    return ErrorCode.INTERNAL_ERROR, f"the model or a tool failed: {detail}"
