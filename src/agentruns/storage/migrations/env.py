"""Alembic's entry point: runs the migrations on a synchronous connection, one process at a time."""

from alembic import context
from sqlalchemy import create_engine, text

from agentruns.storage.database import DatabaseKind, driver_url, install_sqlite_pragmas, parse_database_url
from agentruns.storage.models import Base

# Any 64-bit constant: the key of the PostgreSQL advisory lock that serialises concurrent upgrades.
MIGRATION_LOCK_KEY = 7274_2728


def ours(name: str | None, type_: str, _parent_names: object) -> bool:
    """Only agentruns' own tables: in a SQLite file DBOS keeps its tables beside them."""
    return type_ != "table" or name in Base.metadata.tables


def run_migrations() -> None:
    """Apply the pending migrations inside one transaction."""
    database_url: str = context.config.attributes["database_url"]
    kind, _ = parse_database_url(database_url)
    engine = create_engine(driver_url(database_url, asynchronous=False))
    if kind is DatabaseKind.SQLITE:
        install_sqlite_pragmas(engine)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=kind is DatabaseKind.SQLITE,
                compare_type=True,
                include_name=ours,
            )
            with context.begin_transaction():
                if kind is DatabaseKind.POSTGRESQL:
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                context.run_migrations()
    finally:
        engine.dispose()


run_migrations()
