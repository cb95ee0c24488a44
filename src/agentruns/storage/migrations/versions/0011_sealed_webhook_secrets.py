"""Webhook signing secrets are stored encrypted (`sealed_secret`), no longer in plain text (`secret`).

The existing secrets are encrypted with the key of the process that upgrades: `AGENTRUNS_SECRETS_KEY`,
`AGENTRUNS_SECRETS_KEY_FILE`, or on SQLite the key file beside the database (generated then if missing); the
caller of `storage.migrate.upgrade` may hand its own key box instead. A database with no secret yet needs no
key here. On PostgreSQL with secrets and no key configured, the upgrade stops with the error that names the
setting, and changes nothing (the migration runs in one transaction). The downgrade decrypts them again with the
same keys.

On SQLite the table's freed pages are zeroed (`secure_delete`), so the plain text does not linger in the file; on
PostgreSQL the old row versions stay in the table's files until VACUUM, as in old backups: rotate the signing
secrets after the upgrade where that matters (docs/deploy.md).

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Callable
from typing import Protocol, cast

import sqlalchemy as sa
from alembic import context, op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "webhook_secrets"
KEY = ("org_id", "version")


class _Box(Protocol):
    def seal(self, plain: str) -> str: ...
    def open(self, sealed: str) -> str: ...


def _box() -> _Box:
    """The key box `storage.migrate` put in the configuration, made when first needed."""
    supplier = cast(Callable[[], _Box], context.config.attributes["secret_box"])
    return supplier()


def _zero_freed_pages() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA secure_delete = ON")


def _convert(source: str, target: str, target_type: sa.types.TypeEngine[str], change: str) -> None:
    """Copy every secret from the column `source` to a new column `target` through the box's `change` (`seal`
    or `open`), then drop `source`."""
    _zero_freed_pages()
    op.add_column(TABLE, sa.Column(target, target_type, nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text(f"SELECT org_id, version, {source} FROM {TABLE}")).all()  # noqa: S608
    if rows:
        convert = getattr(_box(), change)
        bind.execute(
            sa.text(f"UPDATE {TABLE} SET {target} = :value WHERE org_id = :org_id AND version = :version"),  # noqa: S608
            [{"org_id": org_id, "version": version, "value": convert(value)} for org_id, version, value in rows],
        )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.alter_column(target, existing_type=target_type, nullable=False)
        batch_op.drop_column(source)


def upgrade() -> None:
    _convert("secret", "sealed_secret", sa.Text(), "seal")


def downgrade() -> None:
    _convert("sealed_secret", "secret", sa.String(length=100), "open")
