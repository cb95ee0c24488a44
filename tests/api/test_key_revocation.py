"""`agentruns keys revoke` takes effect on every API process within `AGENTRUNS_KEY_CACHE_SECONDS`: two real
`agentruns serve` processes on one PostgreSQL database."""

import os
import time
from contextlib import ExitStack

import httpx
from typer.testing import CliRunner

from agentruns.cli import app
from agentruns.services.auth import issue_key
from agentruns.settings import get_settings
from agentruns.storage import migrate
from tests.support.databases import needs_postgresql, postgres_database
from tests.support.portal import async_bridge
from tests.support.servers import agentruns_serve

CACHE_SECONDS = 1.0
"""The bound the servers under test are given (30 s as shipped)."""


def _status(url: str, key: str) -> int:
    return httpx.get(f"{url}/agent/v1/agents", headers={"Authorization": f"Bearer {key}"}, timeout=30).status_code


def _keys(*args: str, database_url: str) -> str:
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["keys", *args], env={"AGENTRUNS_DATABASE_URL": database_url})
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


@needs_postgresql
def test_a_revoked_key_is_refused_by_every_api_process_within_the_bound() -> None:
    with postgres_database() as url, ExitStack() as stack:
        migrate.upgrade(url)
        with async_bridge(url) as bridge:
            revoked, kept = (bridge.call(issue_key, bridge.db, "revoking") for _ in range(2))
        environment = {key: value for key, value in os.environ.items() if not key.startswith("AGENTRUNS_")}
        environment |= {
            "AGENTRUNS_DATABASE_URL": url, "AGENTRUNS_WORKER": "false", "AGENTRUNS_RATE_LIMIT": "off",
            "AGENTRUNS_SECRETS_KEY": os.environ["AGENTRUNS_SECRETS_KEY"], "AGENTRUNS_DATABASE_POOL_SIZE": "2",
            "AGENTRUNS_KEY_CACHE_SECONDS": str(CACHE_SECONDS),
        }  # fmt: skip
        servers = [stack.enter_context(agentruns_serve(environment)).url for _ in range(2)]
        assert [_status(server, revoked.key) for server in servers] == [200, 200]  # now cached by both
        assert revoked.key_id in _keys("list", "--org", "revoking", database_url=url)
        revoked_at = time.monotonic()
        assert "revoked" in _keys("revoke", revoked.key_id, database_url=url)
        deadline = revoked_at + CACHE_SECONDS + 20  # the bound, and room for a loaded machine's slow requests
        while any(_status(server, revoked.key) != 401 for server in servers):
            assert time.monotonic() < deadline, "a revoked key was still accepted long after the bound"
            time.sleep(0.1)
        assert [_status(server, kept.key) for server in servers] == [200, 200]
        listed = _keys("list", "--json", database_url=url)
        assert f'"keyId": "{revoked.key_id}"' in listed and '"revokedAt": null' in listed  # the kept one
