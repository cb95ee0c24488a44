"""Turn every failure into the error envelope with the contract's code; never a stack trace or HTML."""

import logging
import re
from functools import cache
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from agentruns.errors import RateLimited, ServiceError
from agentruns.schemas.base import NO_NUL_PATTERN
from agentruns.schemas.errors import ErrorBody, ErrorCode, ErrorResponse, FieldError

log = logging.getLogger("agentruns.api")

_CODE_OF_STATUS = {
    401: ErrorCode.AUTHORIZATION_ERROR,
    403: ErrorCode.AUTHORIZATION_ERROR,
    404: ErrorCode.RESOURCE_NOT_FOUND,
    409: ErrorCode.CONFLICT,
    429: ErrorCode.RATE_LIMIT_EXCEEDED,
    501: ErrorCode.NOT_IMPLEMENTED,
    504: ErrorCode.TIMEOUT,
}


def code_of_status(status: int) -> ErrorCode:
    """The contract code for an HTTP status."""
    if status in _CODE_OF_STATUS:
        return _CODE_OF_STATUS[status]
    return ErrorCode.INVALID_INPUT if status < 500 else ErrorCode.INTERNAL_ERROR


def error_response(
    status: int,
    code: ErrorCode,
    message: str,
    *,
    details: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A response carrying the error envelope."""
    body = ErrorResponse(error=ErrorBody(code=code, message=message, details=details))
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=status, headers=headers)


def service_error_response(exc: ServiceError) -> JSONResponse:
    """The response for a failure a service reported."""
    headers = {"x-should-retry": "false"} if exc.should_retry is False else {}
    if isinstance(exc, RateLimited):
        headers["retry-after"] = str(exc.retry_after_seconds)
    return error_response(exc.status, exc.code, exc.message, details=exc.details, headers=headers or None)


def _field_name(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location) or "body"


def context_of(error: dict[str, Any]) -> dict[str, Any]:
    """The `ctx` of a validation error."""
    return error.get("ctx") or {}


def _describe(errors: list[dict[str, Any]]) -> tuple[str, list[FieldError]]:
    details: list[FieldError] = []
    for error in errors:
        location = tuple(error.get("loc", ()))
        if error.get("type") == "json_invalid":
            reason = context_of(error).get("error", "malformed JSON")
            details.append(FieldError(field="body", message=f"the body is not valid JSON ({reason})"))
        elif location == ("body",) and error.get("type") == "missing":
            details.append(FieldError(field="body", message="a JSON object body is required"))
        elif location == ("body",) and isinstance(error.get("input"), bytes):
            details.append(FieldError(field="body", message="send a JSON object with Content-Type: application/json"))
        elif error.get("type") == "string_pattern_mismatch" and context_of(error).get("pattern") == NO_NUL_PATTERN:
            details.append(FieldError(field=_field_name(location), message="must not contain the NUL character"))
        else:
            details.append(FieldError(field=_field_name(location), message=str(error.get("msg", "is invalid"))))
    message = "; ".join(f"{detail.field}: {detail.message}" for detail in details[:5])
    if len(details) > 5:
        message += f"; and {len(details) - 5} more"
    return message or "the request is invalid", details


async def _on_service_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return service_error_response(exc)


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    message, details = _describe(list(exc.errors()))
    return error_response(400, ErrorCode.INVALID_INPUT, message, details=details)


@cache
def _methods_by_path(app: FastAPI) -> list[tuple[re.Pattern[str], str]]:
    """Each documented path as a pattern, with the methods it serves."""
    table: list[tuple[re.Pattern[str], str]] = []
    for template, operations in app.openapi()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$")
        table.append((pattern, ", ".join(sorted(method.upper() for method in operations))))
    return table


def _allowed_methods(request: Request) -> str:
    """The methods served at this path, as the OpenAPI document lists them.

    Starlette's own `Allow` names only the first route that matched the path, not all of them.
    """
    for pattern, methods in _methods_by_path(request.app):
        if pattern.match(request.url.path):
            return methods
    return ""


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    message = "no such route" if status == 404 else exc.detail
    headers = {name.lower(): value for name, value in (exc.headers or {}).items()}
    if status == 405:
        headers["allow"] = _allowed_methods(request)
        message = f"{request.method} is not allowed here; allowed: {headers['allow']}"
    return error_response(status, code_of_status(status), message, headers=headers or None)


async def _on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, ErrorCode.INTERNAL_ERROR, "internal error; the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that shape every error response."""
    app.add_exception_handler(ServiceError, _on_service_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected_error)
