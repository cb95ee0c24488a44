"""Bring a database's schema to the newest Alembic migration (on start and by `agentruns db upgrade`)."""

import threading
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from dbos import DBOS

from agentruns.settings import get_settings
from agentruns.storage.database import ensure_sqlite_directory, system_database_url
from agentruns.storage.secret_box import SecretBox
from agentruns.storage.secrets_key import secret_box

MIGRATIONS = Path(__file__).parent / "migrations"
# Alembic keeps its migration context in module globals: one upgrade at a time per process.
# Across processes, env.py serialises upgrades with a PostgreSQL advisory lock.
_one_upgrade_at_a_time = threading.Lock()


def alembic_config(database_url: str, secrets: SecretBox | None = None) -> Config:
    """An Alembic configuration for this package's migrations, with no alembic.ini needed.

    A migration that encrypts or decrypts stored secrets uses `secrets`, or else the key this process's settings
    give for the database (`storage.secrets_key`), looked up only if a migration needs it.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    supplier: Callable[[], SecretBox] = (
        (lambda: secrets) if secrets is not None else (lambda: secret_box(get_settings(), database_url))
    )
    config.attributes["secret_box"] = supplier
    return config


def upgrade(database_url: str, revision: str = "head", *, secrets: SecretBox | None = None) -> None:
    """Apply every migration up to `revision`; safe when several processes start at once. `secrets`: as
    `alembic_config` takes it."""
    ensure_sqlite_directory(database_url)
    with _one_upgrade_at_a_time:
        command.upgrade(alembic_config(database_url, secrets), revision)
        # The durable engine's own tables (schema `dbos` on PostgreSQL; unprefixed in a SQLite file).
        DBOS.migrate(system_database_url(database_url))


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    from agentruns.storage.database import driver_url

    engine = create_engine(driver_url(database_url, asynchronous=False))
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
