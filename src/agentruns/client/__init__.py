"""The Python client of agentruns: `Client` and `AsyncClient` for every endpoint of the Agent API.

It imports no server module (no storage, engine or web framework), only the shared wire models.
"""

from agentruns.client.async_client import AsyncAgents, AsyncClient, AsyncRuns
from agentruns.client.config import DEFAULT_BASE_URL
from agentruns.client.errors import (
    AgentrunsError,
    APIConnectionError,
    APIError,
    AuthorizationError,
    ConflictError,
    GatewayTimeoutError,
    InternalServerError,
    InvalidInputError,
    NotFoundError,
    NotServedError,
    RateLimitError,
    StreamError,
    WaitTimeoutError,
)
from agentruns.client.models import RunEvent, RunStatus
from agentruns.client.retries import RetryPolicy
from agentruns.client.sync_client import Agents, Client, Runs

__all__ = [
    "DEFAULT_BASE_URL",
    "APIConnectionError",
    "APIError",
    "AgentrunsError",
    "Agents",
    "AsyncAgents",
    "AsyncClient",
    "AsyncRuns",
    "AuthorizationError",
    "Client",
    "ConflictError",
    "GatewayTimeoutError",
    "InternalServerError",
    "InvalidInputError",
    "NotFoundError",
    "NotServedError",
    "RateLimitError",
    "RetryPolicy",
    "RunEvent",
    "RunStatus",
    "Runs",
    "StreamError",
    "WaitTimeoutError",
]
