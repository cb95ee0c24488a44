"""Waiting runs, child runs, per-run limits, idempotent creates, run metadata and ephemeral agents.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# The storage type of agentruns.storage.models, frozen here as this migration created it.
JSON_VALUE = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch_op:
        batch_op.add_column(sa.Column("max_model_requests", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("max_cost_micros", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("ephemeral", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("runs") as batch_op:
        batch_op.add_column(sa.Column("parent_run_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("depth", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("metadata", JSON_VALUE, nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("request_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("max_duration_ms", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("max_model_requests", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("max_cost_micros", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("waited_ms", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.create_foreign_key(op.f("fk_runs_parent_run_id_runs"), "runs", ["parent_run_id"], ["id"])
        batch_op.create_index("ix_runs_org_parent_seq", ["org_id", "parent_run_id", "seq"], unique=False)
        batch_op.create_unique_constraint("uq_runs_org_id_idempotency_key", ["org_id", "idempotency_key"])
    op.create_table(
        "run_waits",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("started", JSON_VALUE, nullable=False),
        sa.Column("history", JSON_VALUE, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_waits_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "number", name=op.f("pk_run_waits")),
    )
    op.create_index(op.f("ix_run_waits_deadline"), "run_waits", ["deadline"], unique=False)
    op.create_table(
        "run_pending_calls",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("wait_number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tool_call_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("tool_name", sa.String(length=100), nullable=False),
        sa.Column("tool_input", JSON_VALUE, nullable=True),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("child_run_id", sa.String(length=40), nullable=True),
        sa.Column("result", JSON_VALUE, nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_pending_calls_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "wait_number", "tool_call_id", name=op.f("pk_run_pending_calls")),
    )


def downgrade() -> None:
    op.drop_table("run_pending_calls")
    op.drop_index(op.f("ix_run_waits_deadline"), table_name="run_waits")
    op.drop_table("run_waits")
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_constraint("uq_runs_org_id_idempotency_key", type_="unique")
        batch_op.drop_index("ix_runs_org_parent_seq")
        batch_op.drop_constraint(op.f("fk_runs_parent_run_id_runs"), type_="foreignkey")
        for column in ("waited_ms", "max_cost_micros", "max_model_requests", "max_duration_ms", "request_hash",
                       "idempotency_key", "metadata", "depth", "parent_run_id"):  # fmt: skip
            batch_op.drop_column(column)
    with op.batch_alter_table("agents") as batch_op:
        for column in ("ephemeral", "max_cost_micros", "max_model_requests"):
            batch_op.drop_column(column)
