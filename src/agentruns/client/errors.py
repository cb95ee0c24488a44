"""The exceptions the client raises: one class per error code of the contract, each carrying the code."""

import json
from typing import Any, cast

import httpx

from agentruns.schemas.errors import ErrorCode, FieldError


class AgentrunsError(Exception):
    """Anything the agentruns client raises."""


class APIConnectionError(AgentrunsError):
    """The server could not be reached, or the connection broke, and retrying did not help."""


class WaitTimeoutError(AgentrunsError):
    """`wait()` gave up before the run reached the state it waited for."""

    def __init__(self, run_id: str, status: str, timeout: float) -> None:
        super().__init__(f"run {run_id} is still {status} after {timeout:g} s")
        self.run_id = run_id
        self.status = status


class StreamError(AgentrunsError):
    """The event stream broke the contract (an event without an integer id, data that is not a JSON object)."""


class APIError(AgentrunsError):
    """The server answered with the error envelope `{"error": {"code", "message"}}`."""

    code: str = ErrorCode.INTERNAL_ERROR

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        details: list[FieldError] | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(f"{status} {code or self.code}: {message}")
        self.message = message
        self.status = status
        if code is not None:
            self.code = code
        self.details = details or []
        self.response = response


class InvalidInputError(APIError):
    """400, 413 or 422 `INVALID_INPUT`: the request breaks a rule; `details` names the fields."""

    code = ErrorCode.INVALID_INPUT


class AuthorizationError(APIError):
    """401 or 403 `AUTHORIZATION_ERROR`: no key, or a key the server does not accept."""

    code = ErrorCode.AUTHORIZATION_ERROR


class NotFoundError(APIError):
    """404 `RESOURCE_NOT_FOUND`: no such object in your organization."""

    code = ErrorCode.RESOURCE_NOT_FOUND


class ConflictError(APIError):
    """409 `CONFLICT`: the object's state forbids the call (a second exec, for example)."""

    code = ErrorCode.CONFLICT


class RateLimitError(APIError):
    """429 `RATE_LIMIT_EXCEEDED`, still after the client's retries."""

    code = ErrorCode.RATE_LIMIT_EXCEEDED


class GatewayTimeoutError(APIError):
    """504 `TIMEOUT`."""

    code = ErrorCode.TIMEOUT


class InternalServerError(APIError):
    """500 `INTERNAL_ERROR` or another 5xx, still after the client's retries."""

    code = ErrorCode.INTERNAL_ERROR


class NotServedError(APIError):
    """501 `NOT_IMPLEMENTED`: this version of the server does not serve the route yet."""

    code = ErrorCode.NOT_IMPLEMENTED


_CLASS_OF_CODE: dict[str, type[APIError]] = {
    error_class.code: error_class
    for error_class in (
        InvalidInputError,
        AuthorizationError,
        NotFoundError,
        ConflictError,
        RateLimitError,
        GatewayTimeoutError,
        InternalServerError,
        NotServedError,
    )
}
_CODE_OF_STATUS = {
    401: ErrorCode.AUTHORIZATION_ERROR,
    403: ErrorCode.AUTHORIZATION_ERROR,
    404: ErrorCode.RESOURCE_NOT_FOUND,
    409: ErrorCode.CONFLICT,
    429: ErrorCode.RATE_LIMIT_EXCEEDED,
    501: ErrorCode.NOT_IMPLEMENTED,
    504: ErrorCode.TIMEOUT,
}


def _envelope(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body: Any = json.loads(response.content)
    except ValueError:
        return None
    if isinstance(body, dict):
        error: Any = cast(dict[str, Any], body).get("error")
        if isinstance(error, dict):
            return cast(dict[str, Any], error)
    return None


def _details(error: dict[str, Any]) -> list[FieldError]:
    items: Any = error.get("details")
    found: list[FieldError] = []
    for item in cast(list[Any], items) if isinstance(items, list) else []:
        if isinstance(item, dict) and "field" in item and "message" in item:
            detail = cast(dict[str, Any], item)
            found.append(FieldError(field=str(detail["field"]), message=str(detail["message"])))
    return found


def error_from_response(response: httpx.Response) -> APIError:
    """The exception for an error answer: its class follows the envelope's code, else the HTTP status."""
    status = response.status_code
    default_code = _CODE_OF_STATUS.get(status, ErrorCode.INVALID_INPUT if status < 500 else ErrorCode.INTERNAL_ERROR)
    error = _envelope(response)
    if error is None:
        text = response.text.strip()[:200] or response.reason_phrase or "no body"
        return _CLASS_OF_CODE[default_code](
            f"the server answered {status} without an error envelope: {text}", status=status, response=response
        )
    code = str(error.get("code") or default_code)
    error_class = _CLASS_OF_CODE.get(code) or _CLASS_OF_CODE[default_code]
    message = str(error.get("message") or "no message")
    return error_class(message, status=status, code=code, details=_details(error), response=response)
