"""The Alembic migrations build exactly the schema of `storage.models`, on SQLite and PostgreSQL."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from agentruns.cli import app
from agentruns.events.signing import new_secret
from agentruns.settings import get_settings
from agentruns.storage import migrate
from agentruns.storage.database import driver_url
from agentruns.storage.models import Base
from agentruns.storage.secret_box import SecretBox, new_key
from tests.support.databases import database_url_for, needs_postgresql, postgres_database
from tests.support.raw_database import forms_of, raw_database


def ours(name: str | None, type_: str, _parent_names: object) -> bool:
    return type_ != "table" or name in Base.metadata.tables


def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(driver_url(database_url, asynchronous=False))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_name": ours})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_the_database_is_at_the_newest_revision_and_upgrade_is_idempotent(database_url: str) -> None:
    head = ScriptDirectory.from_config(migrate.alembic_config(database_url)).get_current_head()
    assert migrate.current_revision(database_url) == head
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == head


def test_a_new_sqlite_file_is_created_with_its_directory_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "agentruns.db"
    migrate.upgrade(f"sqlite:///{path}")
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"organizations", "api_keys", "agents", "runs", "run_steps", "usage_entries", "run_logs"} <= tables


def test_processes_starting_together_migrate_once() -> None:
    with postgres_database() as url:
        environment = os.environ | {"AGENTRUNS_DATABASE_URL": url}
        agentruns = str(Path(sys.executable).with_name("agentruns"))
        starts = [
            subprocess.Popen(
                [agentruns, "db", "upgrade"], env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            for _ in range(4)
        ]
        outputs = [start.communicate(timeout=120)[0].decode() for start in starts]
        assert [start.returncode for start in starts] == [0, 0, 0, 0], outputs
        head = ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()
        assert migrate.current_revision(url) == head
        assert all(f"database at revision {head}" in output for output in outputs)


@needs_postgresql
def test_the_events_function_plans_its_statements_once_per_connection() -> None:
    # Left to PostgreSQL's choice, a database without statistics re-planned the function's INSERT at every append.
    with postgres_database() as url:
        migrate.upgrade(url)
        with psycopg.connect(url) as connection:
            row = connection.execute(
                "SELECT proconfig FROM pg_proc WHERE proname = 'agentruns_append_events'"
            ).fetchone()
    assert row is not None and "plan_cache_mode=force_generic_plan" in (row[0] or [])


def _store_plain_secret(url: str, secret: str) -> None:
    engine = create_engine(driver_url(url, asynchronous=False))
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO organizations VALUES ('org_old', 'old', '2026-01-01 00:00:00+00')"))
            connection.execute(
                text("INSERT INTO webhook_secrets VALUES ('org_old', 1, :secret, '2026-01-01 00:00:00+00', NULL)"),
                {"secret": secret},
            )
    finally:
        engine.dispose()


def _stored(url: str, column: str) -> list[str]:
    engine = create_engine(driver_url(url, asynchronous=False))
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(f"SELECT {column} FROM webhook_secrets")).scalars())  # noqa: S608
    finally:
        engine.dispose()


def test_0011_encrypts_the_stored_secrets_and_its_downgrade_decrypts_them(backend: str, tmp_path: Path) -> None:
    plain = new_secret()
    box = SecretBox([new_key()])
    with database_url_for(backend, tmp_path) as url:
        migrate.upgrade(url, "0009")
        _store_plain_secret(url, plain)
        migrate.upgrade(url, secrets=box)
        [sealed] = _stored(url, "sealed_secret")
        assert box.open(sealed) == plain
        copy = raw_database(url)  # on SQLite the old rows' pages were zeroed, not just freed
        assert not [form for form in forms_of(plain) if form in copy]
        command.downgrade(migrate.alembic_config(url, box), "0009")
        assert _stored(url, "secret") == [plain]


@needs_postgresql
def test_0011_on_postgresql_without_a_key_stops_naming_the_setting_and_changes_nothing() -> None:
    plain = new_secret()
    with postgres_database() as url:
        migrate.upgrade(url, "0009")
        _store_plain_secret(url, plain)
        get_settings.cache_clear()
        try:  # `agentruns db upgrade` in this process, with no secrets key in its environment
            upgraded = CliRunner().invoke(
                app, ["db", "upgrade"], env={"AGENTRUNS_DATABASE_URL": url, "AGENTRUNS_SECRETS_KEY": None}
            )
        finally:
            get_settings.cache_clear()
        assert upgraded.exit_code == 2, upgraded.output
        assert "AGENTRUNS_SECRETS_KEY" in upgraded.stderr and upgraded.exception is not None
        assert migrate.current_revision(url) == "0009"
        assert _stored(url, "secret") == [plain]
