"""Where the client finds its server and key: the arguments, else AGENTRUNS_URL and AGENTRUNS_API_KEY."""

import os
from dataclasses import dataclass

from agentruns import __version__
from agentruns.client.errors import AgentrunsError
from agentruns.client.models import RunStatus

DEFAULT_BASE_URL = "http://127.0.0.1:2728"
URL_VARIABLE = "AGENTRUNS_URL"
KEY_VARIABLE = "AGENTRUNS_API_KEY"


@dataclass(frozen=True)
class Connection:
    """The server's base URL and the headers every request carries."""

    base_url: str
    headers: dict[str, str]


def connection(base_url: str | None, api_key: str | None) -> Connection:
    """Resolve the base URL and key; a missing key is an error now rather than a 401 later."""
    url = (base_url or os.environ.get(URL_VARIABLE) or DEFAULT_BASE_URL).rstrip("/")
    key = api_key or os.environ.get(KEY_VARIABLE)
    if not key:
        raise AgentrunsError(f"no API key: pass api_key= or set {KEY_VARIABLE}")
    headers = {
        "Authorization": f"Bearer {key}",
        "Accept": "application/json",
        "User-Agent": f"agentruns-python/{__version__}",
    }
    return Connection(url, headers)


def is_settled(status: RunStatus) -> bool:
    """Whether `wait()` stops at this status: the run has ended, or waits for an answer."""
    return status.is_terminal or status is RunStatus.WAITING


def next_poll_delay(previous: float, maximum: float) -> float:
    """The next pause of `wait()`: half as long again as the last one, up to `maximum`."""
    return min(previous * 1.5, maximum)
