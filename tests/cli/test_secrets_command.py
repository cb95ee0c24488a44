"""`agentruns secrets` (in this process), and the start-up refusal of a PostgreSQL deployment with no secrets key
(real subprocesses)."""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from agentruns.cli import app
from agentruns.services.auth import issue_key
from agentruns.services.webhooks import signing_secret
from agentruns.settings import get_settings
from agentruns.storage import migrate
from agentruns.storage.secret_box import SecretBox, new_key, parse_keys
from tests.support.databases import database_url_for, needs_postgresql, postgres_database
from tests.support.portal import async_bridge
from tests.support.workers import AGENTRUNS


def _agentruns(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AGENTRUNS_")}
    environment |= {f"AGENTRUNS_{key.upper()}": value for key, value in settings.items()}
    return subprocess.run([AGENTRUNS, *args], env=environment, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """`get_settings()` read again from the environment a test sets, and forgotten after it."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _secrets(*args: str, **settings: str) -> Result:
    environment = {f"AGENTRUNS_{key.upper()}": value for key, value in settings.items()}
    get_settings.cache_clear()
    return CliRunner().invoke(app, ["secrets", *args], env=environment)


def test_new_key_prints_a_key_each_time_another() -> None:
    first, second = _secrets("new-key"), _secrets("new-key")
    assert first.exit_code == second.exit_code == 0
    assert parse_keys(first.stdout, source="the output") != parse_keys(second.stdout, source="the output")


@pytest.mark.usefixtures("fresh_settings")
def test_rotate_moves_every_secret_to_the_first_key_and_refuses_a_wrong_key(backend: str, tmp_path: Path) -> None:
    old, new = new_key(), new_key()
    with database_url_for(backend, tmp_path) as url:
        migrate.upgrade(url, secrets=SecretBox([old]))
        with async_bridge(url) as bridge:
            org_id = bridge.call(issue_key, bridge.db, "rotating").org_id
            made = bridge.call(signing_secret, bridge.db, SecretBox([old]), org_id).secret
        wrong = _secrets("rotate", database_url=url, secrets_key=new)
        assert wrong.exit_code == 2
        message = " ".join(wrong.stderr.split())
        assert "nothing was changed" in message and "encrypted with another key" in message
        rotated = _secrets("rotate", database_url=url, secrets_key=f"{new},{old}")
        assert rotated.exit_code == 0, rotated.output
        assert "1 stored secret(s) are encrypted under the first key" in rotated.stdout
        with async_bridge(url) as bridge:
            assert bridge.call(signing_secret, bridge.db, SecretBox([new]), org_id).secret == made


@needs_postgresql
def test_on_postgresql_serve_and_worker_without_a_key_exit_2_naming_the_setting() -> None:
    with postgres_database() as url:
        for command in (("serve", "--no-worker"), ("worker",)):
            started = _agentruns(*command, database_url=url)
            assert started.returncode == 2, (command, started.stderr)
            message = " ".join(started.stderr.split())
            assert "AGENTRUNS_SECRETS_KEY (or AGENTRUNS_SECRETS_KEY_FILE) must be set" in message
            assert "Traceback" not in started.stderr
