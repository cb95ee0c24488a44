"""On PostgreSQL, `agentruns_hold_workflow`: a write of a run's workflow execution checks that the execution still
owns the workflow, and keeps it until the write commits (`storage/queries/audit.py`). SQLite needs none.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

# DBOS writes the token of each claim of a workflow to `owner_xid`, and clears it when the workflow is re-enqueued by a
# recovery, cancelled or finished. The row is shared-locked until the transaction ends, so a hand-off (an UPDATE of
# the row) waits for the write, and a write after the hand-off fails with SQLSTATE AR409 instead of racing the new
# owner. A cancelled workflow's execution goes on writing: it records how its run's sandbox and processes stopped.
HOLD_WORKFLOW = """
CREATE OR REPLACE FUNCTION agentruns_hold_workflow(workflow text, owner text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    holder text;
    state text;
BEGIN
    SELECT owner_xid, status INTO holder, state FROM dbos.workflow_status WHERE workflow_uuid = workflow FOR SHARE;
    IF holder IS DISTINCT FROM owner AND state IS DISTINCT FROM 'CANCELLED' THEN
        RAISE EXCEPTION 'workflow % is no longer owned by this execution', workflow USING ERRCODE = 'AR409';
    END IF;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(HOLD_WORKFLOW)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS agentruns_hold_workflow(text, text)")
