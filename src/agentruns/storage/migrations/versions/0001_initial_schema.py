"""initial schema

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# The storage types of agentruns.storage.models, frozen here as this migration created them.
JSON_VALUE = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("name", name=op.f("uq_organizations_name")),
    )
    op.create_table(
        "agents",
        sa.Column("seq", SEQUENCE, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column(
            "vault_ids",
            JSON_VALUE,
            nullable=False,
        ),
        sa.Column(
            "vault_groups",
            JSON_VALUE,
            nullable=False,
        ),
        sa.Column(
            "enabled_tools",
            JSON_VALUE,
            nullable=True,
        ),
        sa.Column(
            "disabled_tools",
            JSON_VALUE,
            nullable=True,
        ),
        sa.Column("sandbox_cpu", sa.Integer(), nullable=False),
        sa.Column("sandbox_memory_mib", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_agents_org_id_organizations")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_agents")),
        sa.UniqueConstraint("id", name=op.f("uq_agents_id")),
    )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.create_index("ix_agents_org_active_seq", ["org_id", "is_active", "seq"], unique=False)

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_api_keys_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_org_id"), ["org_id"], unique=False)

    op.create_table(
        "runs",
        sa.Column("seq", SEQUENCE, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("guidance", sa.Text(), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column(
            "object_ids",
            JSON_VALUE,
            nullable=False,
        ),
        sa.Column("workflow_id", sa.String(length=80), nullable=True),
        sa.Column("provider", sa.String(length=40), nullable=True),
        sa.Column("runtime_id", sa.String(length=200), nullable=True),
        sa.Column("runtime_state", sa.String(length=20), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column(
            "output_object_ids",
            JSON_VALUE,
            nullable=False,
        ),
        sa.Column(
            "created_object_ids",
            JSON_VALUE,
            nullable=False,
        ),
        sa.Column(
            "issues",
            JSON_VALUE,
            nullable=False,
        ),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_runs_agent_id_agents")),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_runs_org_id_organizations")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_runs")),
        sa.UniqueConstraint("id", name=op.f("uq_runs_id")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index("ix_runs_org_agent_seq", ["org_id", "agent_id", "seq"], unique=False)
        batch_op.create_index("ix_runs_org_seq", ["org_id", "seq"], unique=False)
        batch_op.create_index("ix_runs_org_status_seq", ["org_id", "status", "seq"], unique=False)

    op.create_table(
        "run_logs",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("stream", sa.String(length=20), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_logs_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "stream", "number", name=op.f("pk_run_logs")),
    )
    op.create_table(
        "run_steps",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("tool_name", sa.String(length=100), nullable=True),
        sa.Column(
            "tool_input",
            JSON_VALUE,
            nullable=True,
        ),
        sa.Column(
            "tool_output",
            JSON_VALUE,
            nullable=True,
        ),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_steps_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "number", name=op.f("pk_run_steps")),
    )
    op.create_table(
        "run_watchers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_watchers_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_watchers")),
        sa.UniqueConstraint("run_id", "url", name="uq_run_watchers_run_id_url"),
    )
    with op.batch_alter_table("run_watchers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_watchers_run_id"), ["run_id"], unique=False)

    op.create_table(
        "usage_entries",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=True),
        sa.Column("endpoint", sa.Text(), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_tokens", sa.BigInteger(), nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.Column(
            "metadata",
            JSON_VALUE,
            nullable=True,
        ),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_usage_entries_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "number", name=op.f("pk_usage_entries")),
    )


def downgrade() -> None:
    op.drop_table("usage_entries")
    with op.batch_alter_table("run_watchers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_watchers_run_id"))

    op.drop_table("run_watchers")
    op.drop_table("run_steps")
    op.drop_table("run_logs")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_org_status_seq")
        batch_op.drop_index("ix_runs_org_seq")
        batch_op.drop_index("ix_runs_org_agent_seq")

    op.drop_table("runs")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_org_id"))

    op.drop_table("api_keys")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_index("ix_agents_org_active_seq")

    op.drop_table("agents")
    op.drop_table("organizations")
