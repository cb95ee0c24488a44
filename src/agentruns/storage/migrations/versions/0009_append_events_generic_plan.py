"""On PostgreSQL, `agentruns_append_events` plans its statements once per connection, not at every call.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

# PL/pgSQL caches a plan for each statement of a function, but PostgreSQL's plan cache re-plans a statement at every
# call while a plan for the call's values looks cheaper than the generic one, and on a database without statistics
# yet (a new deployment's first minute) it did so at every append: 0.26 ms of the server's CPU each, more than
# the INSERT's execution (pg_stat_statements, docs/benchmarks.md). The statements look up one run's rows by its key,
# where the values cannot change the plan that fits.
_SIGNATURE = "agentruns_append_events(text, text, timestamptz, text[], text[], text[], boolean, text[], text, text)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER FUNCTION {_SIGNATURE} SET plan_cache_mode = force_generic_plan")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER FUNCTION {_SIGNATURE} RESET plan_cache_mode")
