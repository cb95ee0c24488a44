"""What the OpenAPI document says beyond the routes: error responses, security and examples."""

from typing import Any

from agentruns.schemas.errors import ErrorResponse


def _error(description: str, code: str, message: str) -> dict[str, Any]:
    example = {"error": {"code": code, "message": message}}
    return {
        "model": ErrorResponse,
        "description": description,
        "content": {"application/json": {"example": example}},
    }


CLIENT_ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": _error("A client error, in the error envelope.", "INVALID_INPUT", "body.name: Field required"),
    400: _error("The request is malformed or invalid.", "INVALID_INPUT", "body.name: Field required"),
    401: _error("No API key, or an invalid one.", "AUTHORIZATION_ERROR", "the API key is not valid"),
    413: _error("The body is over the limit.", "INVALID_INPUT", "the request body is over the limit"),
    429: _error(
        "Over the organization's request rate limit; the `Retry-After` header says in how many seconds to retry.",
        "RATE_LIMIT_EXCEEDED",
        "over this organization's limit of 1200 requests per minute; retry in 12 s",
    ),
    "5XX": _error("A server error, in the error envelope.", "INTERNAL_ERROR", "internal error"),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: _error("No such object in your organization.", "RESOURCE_NOT_FOUND", "run 'run_x' not found")
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: _error("The object's state does not allow this.", "CONFLICT", "run 'run_x' was already executed")
}
EVENT_STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A `text/event-stream`: each event has `id:` (1, 2, 3 …), `event:` and one JSON `data:` line.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}
UNREACHABLE: dict[int | str, dict[str, Any]] = {
    503: _error(
        "This API process cannot reach what the request needs.",
        "INTERNAL_ERROR",
        "the workspace of run 'run_x' is not reachable from this API process (it is not on this host): …",
    )
}
