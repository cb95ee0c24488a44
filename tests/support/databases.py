"""Real databases for tests: a SQLite file, or a fresh PostgreSQL database on 127.0.0.1:5432."""

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

POSTGRES_ADMIN_URL = os.environ.get("AGENTRUNS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = tuple(os.environ.get("AGENTRUNS_TEST_BACKENDS", "sqlite,postgresql").split(","))
needs_postgresql = pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL is not among the backends")
"""A test of what only PostgreSQL does."""


def cut_connections(url: str, *, application_name: str | None = None) -> int:
    """Terminate the server's connections to the database at `url` (only those of `application_name`, if given), as a
    server restart or a proxy's timeout would drop them; how many were cut."""
    with psycopg.connect(url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND (%(name)s::text IS NULL OR application_name = %(name)s::text)",
            {"name": application_name},
        ).fetchone()
    return 0 if row is None else row[0]


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped when the block ends; yields its URL."""
    name = f"agentruns_test_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def database_url_for(backend: str, directory: Path) -> Iterator[str]:
    """A fresh database of the given backend; yields its URL."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'agentruns.db'}"
    else:
        with postgres_database() as url:
            yield url
