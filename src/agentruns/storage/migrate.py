"""Bring a database's schema to the newest Alembic migration (on start and by `agentruns db upgrade`)."""

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from dbos import DBOS

from agentruns.storage.database import ensure_sqlite_directory, system_database_url

MIGRATIONS = Path(__file__).parent / "migrations"
# Alembic keeps its migration context in module globals: one upgrade at a time per process.
# Across processes, env.py serialises upgrades with a PostgreSQL advisory lock.
_one_upgrade_at_a_time = threading.Lock()


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for this package's migrations, with no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply every migration up to `revision`; safe when several processes start at once."""
    ensure_sqlite_directory(database_url)
    with _one_upgrade_at_a_time:
        command.upgrade(alembic_config(database_url), revision)
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
