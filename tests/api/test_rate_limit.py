"""The per-organization request rate limit: 429 with Retry-After, per organization, health exempt."""

from collections.abc import Iterator

import casedev
import httpx
import pytest

from agentruns.settings import Settings
from tests.conftest import new_key
from tests.support.portal import AsyncBridge
from tests.support.servers import running_server

LIMIT = 5


@pytest.fixture(scope="module")
def limited_url(database_url: str) -> Iterator[str]:
    """A server whose organizations may make LIMIT requests a minute."""
    with running_server(Settings(database_url=database_url, api_key=None, rate_limit=f"{LIMIT}/minute")) as url:
        yield url


@pytest.fixture(scope="module")
def per_second_url(database_url: str) -> Iterator[str]:
    """A server whose organizations may make 2 requests a second."""
    with running_server(Settings(database_url=database_url, api_key=None, rate_limit="2/second")) as url:
        yield url


def test_the_official_sdk_waits_as_retry_after_says_and_succeeds(per_second_url: str, bridge: AsyncBridge) -> None:
    key = new_key(bridge)
    with casedev.Casedev(api_key=key, base_url=per_second_url, max_retries=0) as impatient:
        impatient.agent.v1.agents.list()
        impatient.agent.v1.agents.list()
        with pytest.raises(casedev.RateLimitError) as refused:
            impatient.agent.v1.agents.list()
    assert refused.value.response.headers["retry-after"] == "1"
    with casedev.Casedev(api_key=key, base_url=per_second_url, max_retries=2) as patient:
        # Over the limit again at once: the SDK's own retry, after Retry-After, is what lets these through.
        for _ in range(4):
            assert patient.agent.v1.agents.list().agents == []


def test_a_malformed_rate_limit_setting_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="rate limit"):
        Settings(rate_limit="twelve a minute")


def test_requests_over_the_limit_get_429_with_retry_after(limited_url: str, bridge: AsyncBridge) -> None:
    headers = {"Authorization": f"Bearer {new_key(bridge)}"}
    with httpx.Client(base_url=limited_url, headers=headers) as http:
        statuses = [http.get("/agent/v1/agents").status_code for _ in range(LIMIT)]
        refused = http.get("/agent/v1/agents")
        also_refused = http.post("/agent/v1/agents", json={"name": "x", "instructions": "y"})
    assert statuses == [200] * LIMIT
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert str(LIMIT) in refused.json()["error"]["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert also_refused.status_code == 429  # refused before the body is looked at: nothing was created


def test_each_organization_has_its_own_budget_and_health_is_not_counted(limited_url: str, bridge: AsyncBridge) -> None:
    first, second = new_key(bridge), new_key(bridge)
    with httpx.Client(base_url=limited_url) as http:
        for _ in range(LIMIT + 3):
            assert http.get("/health").status_code == 200
        for _ in range(LIMIT):
            http.get("/agent/v1/agents", headers={"Authorization": f"Bearer {first}"})
        assert http.get("/agent/v1/agents", headers={"Authorization": f"Bearer {first}"}).status_code == 429
        assert http.get("/agent/v1/agents", headers={"Authorization": f"Bearer {second}"}).status_code == 200


def test_a_bad_key_is_refused_as_unauthorized_not_counted(limited_url: str) -> None:
    with httpx.Client(base_url=limited_url, headers={"Authorization": "Bearer nope"}) as http:
        statuses = {http.get("/agent/v1/agents").status_code for _ in range(LIMIT + 2)}
    assert statuses == {401}
