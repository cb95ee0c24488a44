"""On PostgreSQL, `agentruns_append_events`: a run's events appended in one statement, with the check of the writer's
hold on its workflow (`storage/queries/events.py`). SQLite needs none.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

# What were three statements of each write of a run (the hold, the lock with its NOTIFY, the numbered insert) is one
# call: each of them cost the server and the worker more to send than to run.
#
# The hold (`agentruns_hold_workflow`, 0007), if a workflow is given, raises AR409 for a superseded execution; the
# transaction then fails whatever it wrote before. The run's row is locked FOR NO KEY UPDATE (this run's appends take
# turns without blocking inserts that reference the row) and the NOTIFY that wakes other processes' streams is queued
# for the commit. The INSERT, a statement of its own in a VOLATILE function, takes a new snapshot under READ COMMITTED:
# it sees what the lock's last holder committed, so the numbers follow on. A draft whose source is stored already
# (only on a replay after a crash) is left out and the others numbered on; none is stored once the run has ended, but
# for a `closing` one.
APPEND_EVENTS = """
CREATE OR REPLACE FUNCTION agentruns_append_events(
    p_run text, p_notification text, p_created_at timestamptz, p_names text[], p_sources text[], p_data text[],
    p_closing boolean, p_ended text[], p_workflow text, p_owner text
) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    appended integer;
BEGIN
    IF p_workflow IS NOT NULL THEN
        PERFORM agentruns_hold_workflow(p_workflow, p_owner);
    END IF;
    PERFORM pg_notify('agentruns_events', p_notification) FROM runs WHERE runs.id = p_run FOR NO KEY UPDATE;
    INSERT INTO run_events (run_id, seq, name, source, data, created_at)
    SELECT p_run, last.seq + row_number() OVER (ORDER BY draft.ord), draft.name, draft.source,
           CAST(draft.data AS JSONB), p_created_at
    FROM unnest(p_names, p_sources, p_data) WITH ORDINALITY AS draft(name, source, data, ord)
    CROSS JOIN (SELECT coalesce(max(run_events.seq), 0) AS seq FROM run_events WHERE run_events.run_id = p_run) AS last
    WHERE (draft.source IS NULL OR NOT EXISTS (
              SELECT 1 FROM run_events AS known WHERE known.run_id = p_run AND known.source = draft.source))
      AND EXISTS (SELECT 1 FROM runs WHERE runs.id = p_run AND (p_closing OR runs.status <> ALL(p_ended)));
    GET DIAGNOSTICS appended = ROW_COUNT;
    RETURN appended;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_EVENTS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION IF EXISTS agentruns_append_events(text, text, timestamptz, text[], text[], text[], boolean, "
            "text[], text, text)"
        )
