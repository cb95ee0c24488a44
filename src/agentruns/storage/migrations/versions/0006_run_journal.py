"""The run journal: model responses and tool outcomes kept with the audit rows, to replay a run after a crash.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "run_journal",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("execution", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_journal_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "execution", "number", name=op.f("pk_run_journal")),
    )


def downgrade() -> None:
    op.drop_table("run_journal")
