"""An agent's network allowlist, `sandbox.network.allow`.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

JSON_VALUE = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    # Null for every existing agent: its runs take the deployment's default (AGENTRUNS_SANDBOX_NETWORK_ALLOW).
    with op.batch_alter_table("agents") as batch_op:
        batch_op.add_column(sa.Column("sandbox_network_allow", JSON_VALUE, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch_op:
        batch_op.drop_column("sandbox_network_allow")
