"""Retries against a loopback server that answers errors first: 429 with Retry-After, 5xx, refusals."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agentruns.client import (
    AgentrunsError,
    APIConnectionError,
    AsyncClient,
    Client,
    ConflictError,
    InternalServerError,
    NotServedError,
    RateLimitError,
    RetryPolicy,
)
from agentruns.client.retries import retry_after
from tests.support.servers import free_port, serving

HEALTHY = {"status": "ok", "version": "0.1.0", "database": "sqlite"}


@dataclass
class Flaky:
    """Answer the queued error responses first, then 200; count the requests."""

    failures: list[Response] = field(default_factory=list[Response])
    requests: int = 0
    keys: list[str | None] = field(default_factory=list[str | None])

    async def endpoint(self, request: Request) -> Response:
        self.requests += 1
        self.keys.append(request.headers.get("authorization"))
        if self.failures:
            return self.failures.pop(0)
        return JSONResponse(HEALTHY)


def _error(status: int, code: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": {"code": code, "message": f"{code} now"}}, status_code=status, headers=headers)


@pytest.fixture(scope="module")
def flaky_server() -> Iterator[tuple[Flaky, str]]:
    flaky = Flaky()
    app = Starlette(routes=[Route("/health", flaky.endpoint, methods=["GET"])])
    with serving(app) as url:
        yield flaky, url


@pytest.fixture
def flaky(flaky_server: tuple[Flaky, str]) -> Flaky:
    flaky_server[0].failures.clear()
    flaky_server[0].requests = 0
    flaky_server[0].keys.clear()
    return flaky_server[0]


@pytest.fixture
def url(flaky_server: tuple[Flaky, str]) -> str:
    return flaky_server[1]


FAST = RetryPolicy(initial_delay=0)


def test_a_429_with_retry_after_is_retried_until_the_200(flaky: Flaky, url: str) -> None:
    flaky.failures += [_error(429, "RATE_LIMIT_EXCEEDED", {"Retry-After": "0"})] * 2
    with Client(url, "secret") as client:
        assert client.health().status == "ok"
    assert flaky.requests == 3
    assert flaky.keys == ["Bearer secret"] * 3


def test_retry_after_ms_is_honoured_too(flaky: Flaky, url: str) -> None:
    flaky.failures.append(_error(429, "RATE_LIMIT_EXCEEDED", {"retry-after-ms": "5"}))
    with Client(url, "secret") as client:
        assert client.health().status == "ok"
    assert flaky.requests == 2


def test_5xx_is_retried_and_the_async_client_does_the_same(flaky: Flaky, url: str) -> None:
    flaky.failures += [_error(503, "INTERNAL_ERROR"), _error(429, "RATE_LIMIT_EXCEEDED", {"Retry-After": "0"})]

    async def check() -> None:
        async with AsyncClient(url, "secret", retry=FAST) as client:
            assert (await client.health()).version == "0.1.0"

    anyio.run(check)
    assert flaky.requests == 3


def test_the_error_is_raised_once_the_retries_are_spent(flaky: Flaky, url: str) -> None:
    flaky.failures += [_error(429, "RATE_LIMIT_EXCEEDED", {"Retry-After": "0"})] * 5
    with Client(url, "secret", retry=RetryPolicy(max_retries=3)) as client, pytest.raises(RateLimitError) as raised:
        client.health()
    assert raised.value.code == "RATE_LIMIT_EXCEEDED"
    assert raised.value.status == 429
    assert flaky.requests == 4


def test_x_should_retry_false_is_obeyed(flaky: Flaky, url: str) -> None:
    flaky.failures += [_error(501, "NOT_IMPLEMENTED", {"x-should-retry": "false"}), _error(500, "INTERNAL_ERROR")]
    with Client(url, "secret", retry=FAST) as client, pytest.raises(NotServedError):
        client.health()
    assert flaky.requests == 1


def test_x_should_retry_true_retries_even_a_conflict(flaky: Flaky, url: str) -> None:
    flaky.failures += [_error(409, "CONFLICT", {"x-should-retry": "true"}), _error(409, "CONFLICT")]
    with Client(url, "secret", retry=FAST) as client, pytest.raises(ConflictError):
        client.health()
    assert flaky.requests == 2


def test_an_answer_without_the_envelope_still_raises_by_status(flaky: Flaky, url: str) -> None:
    flaky.failures.append(Response("<html>bad gateway</html>", status_code=502, media_type="text/html"))
    with (
        Client(url, "secret", retry=RetryPolicy(max_retries=0)) as client,
        pytest.raises(InternalServerError, match="without an error envelope") as raised,
    ):
        client.health()
    assert raised.value.status == 502


def test_an_unreachable_server_raises_a_connection_error_after_the_retries() -> None:
    with (
        Client(f"http://127.0.0.1:{free_port()}", "secret", retry=FAST) as client,
        pytest.raises(APIConnectionError, match="health"),
    ):
        client.health()


def test_a_missing_key_is_an_error_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTRUNS_API_KEY", raising=False)
    with pytest.raises(AgentrunsError, match="AGENTRUNS_API_KEY"):
        Client("http://127.0.0.1:1")


def test_the_url_and_key_come_from_the_environment(flaky: Flaky, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTRUNS_URL", url + "/")
    monkeypatch.setenv("AGENTRUNS_API_KEY", "from-env")
    with Client() as client:
        assert client.health().status == "ok"
    assert flaky.keys == ["Bearer from-env"]


def _answer(headers: dict[str, str], status: int = 429) -> httpx.Response:
    return httpx.Response(status, headers=headers)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_is_read_from_either_header(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after(_answer(headers)) == seconds


def test_retry_after_as_an_http_date_counts_from_now() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    delay = retry_after(_answer({"Retry-After": later}))
    assert delay is not None and 25 < delay <= 30
    assert retry_after(_answer({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0


def test_the_policy_obeys_the_server_within_bounds_and_backs_off_otherwise() -> None:
    policy = RetryPolicy(max_retries=2, initial_delay=1, max_delay=4, max_retry_after=60)
    assert policy.delay_after(0, _answer({"Retry-After": "7"})) == 7
    assert policy.delay_after(2, _answer({"Retry-After": "7"})) is None  # the retries are spent
    backoff = policy.delay_after(1, _answer({"Retry-After": "3600"}))  # too long: ignored
    assert backoff is not None and 1.5 <= backoff <= 2
    assert policy.delay_after(0, _answer({}, status=400)) is None
    assert policy.delay_after(0, _answer({}, status=404)) is None
    assert policy.delay_after(0, _answer({}, status=408)) is not None
    assert policy.delay_after(0, None) is not None  # a broken connection
    assert all(0.75 * 4 <= policy.backoff(attempt) <= 4 for attempt in range(2, 10))
