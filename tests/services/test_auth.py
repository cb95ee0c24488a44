"""API keys: only a hash is stored; the configured key belongs to the default organization."""

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from agentruns.errors import Unauthorized
from agentruns.services.auth import hash_key, issue_key, organization_of_key
from agentruns.settings import Settings
from agentruns.storage.models import ApiKey, Organization
from tests.support.portal import AsyncBridge
from tests.support.servers import running_server


async def _stored_keys(bridge: AsyncBridge, org_id: str) -> list[ApiKey]:
    async with bridge.db.read() as session:
        return list((await session.scalars(select(ApiKey).where(ApiKey.org_id == org_id))).all())


def test_only_the_hash_of_a_key_is_stored(bridge: AsyncBridge, settings: Settings) -> None:
    issued = bridge.call(issue_key, bridge.db, "hash-check")
    assert issued.key.startswith("ar_") and len(issued.key) > 40
    [stored] = bridge.call(_stored_keys, bridge, issued.org_id)
    assert stored.key_hash == hash_key(issued.key) != issued.key
    assert issued.key not in {stored.key_hash, stored.prefix, stored.id}
    assert bridge.call(organization_of_key, bridge.db, settings, issued.key) == issued.org_id


def test_a_second_key_of_the_same_organization(bridge: AsyncBridge, settings: Settings) -> None:
    first = bridge.call(issue_key, bridge.db, "two-keys")
    second = bridge.call(issue_key, bridge.db, "two-keys")
    assert first.org_id == second.org_id and first.key != second.key
    assert bridge.call(organization_of_key, bridge.db, settings, second.key) == first.org_id


def test_an_unknown_key_is_refused(bridge: AsyncBridge, settings: Settings) -> None:
    with pytest.raises(Unauthorized) as refused:
        bridge.call(organization_of_key, bridge.db, settings, "ar_unknown")
    assert refused.value.status == 401


async def _org_named(bridge: AsyncBridge, name: str) -> Organization | None:
    async with bridge.db.read() as session:
        return await session.scalar(select(Organization).where(Organization.name == name))


def test_the_configured_key_creates_the_default_organization_on_first_use(
    bridge: AsyncBridge, settings: Settings
) -> None:
    configured = Settings(database_url=settings.database_url, api_key=SecretStr("local-dev-key"),
                          default_org_name="configured-default")  # fmt: skip
    assert bridge.call(_org_named, bridge, "configured-default") is None
    first = bridge.call(organization_of_key, bridge.db, configured, "local-dev-key")
    again = bridge.call(organization_of_key, bridge.db, configured, "local-dev-key")
    organization = bridge.call(_org_named, bridge, "configured-default")
    assert organization is not None and first == again == organization.id
    with pytest.raises(Unauthorized):
        bridge.call(organization_of_key, bridge.db, configured, "local-dev-key-but-longer")


def test_the_configured_key_works_over_http(database_url: str) -> None:
    settings = Settings(database_url=database_url, api_key=SecretStr("embedded-key"), default_org_name="embedded")
    with running_server(settings) as url, httpx.Client(base_url=url) as http:
        headers = {"Authorization": "Bearer embedded-key"}
        created = http.post("/agent/v1/agents", json={"name": "a", "instructions": "b"}, headers=headers)
        assert created.status_code == 200
        assert http.get("/agent/v1/agents", headers=headers).json()["agents"][0]["id"] == created.json()["id"]
        assert http.get("/agent/v1/agents", headers={"Authorization": "Bearer other"}).status_code == 401
