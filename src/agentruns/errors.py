"""The failures a service reports to its caller, each with its contract error code and HTTP status."""

from agentruns.schemas.errors import ErrorCode, FieldError


class ServiceError(Exception):
    """A failure the client can act on; the API turns it into the error envelope."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR
    status: int = 500
    # The official SDK retries 408/409/429/5xx unless told `x-should-retry: false`.
    should_retry: bool | None = None

    def __init__(self, message: str, *, details: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(ServiceError):
    """The request is malformed or breaks a rule of the contract."""

    code, status = ErrorCode.INVALID_INPUT, 400


class PayloadTooLarge(ServiceError):
    """The request body is over the configured limit."""

    code, status = ErrorCode.INVALID_INPUT, 413


class Unauthorized(ServiceError):
    """No key, or a key that is not valid."""

    code, status = ErrorCode.AUTHORIZATION_ERROR, 401


class Forbidden(ServiceError):
    """The caller's organization may not do this to the object (a file its run made unreadable to itself)."""

    code, status, should_retry = ErrorCode.AUTHORIZATION_ERROR, 403, False


class NotFound(ServiceError):
    """No such object in the caller's organization (another organization's objects are not found either)."""

    code, status = ErrorCode.RESOURCE_NOT_FOUND, 404


class Conflict(ServiceError):
    """The object is not in a state that allows the request; repeating it will not help."""

    code, status, should_retry = ErrorCode.CONFLICT, 409, False


class RateLimited(ServiceError):
    """The organization sent more requests than its rate limit allows; `Retry-After` says when to retry."""

    code, status = ErrorCode.RATE_LIMIT_EXCEEDED, 429

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class NotServedYet(ServiceError):
    """A route of the contract that this version does not serve yet."""

    code, status, should_retry = ErrorCode.NOT_IMPLEMENTED, 501, False


class Unreachable(ServiceError):
    """This process cannot reach what the request needs (a workspace on another host); retrying here will not help."""

    code, status, should_retry = ErrorCode.INTERNAL_ERROR, 503, False


class Misconfigured(ServiceError):
    """The server's configuration keeps it from doing the request (a wrong secrets key); an operator must fix it."""

    code, status, should_retry = ErrorCode.INTERNAL_ERROR, 503, False
