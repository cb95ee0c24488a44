"""The names API processes and workers must agree on: the DBOS application, version, queue and workflow."""

APP_NAME = "agentruns"
# Workers only take runs stamped with their own version: bump it only when the workflow's steps change
# in a way that a run begun by the previous version cannot replay. 2: model requests and tool calls are
# journaled by agentruns (engine/journal.py), no longer DBOS steps. 3: so is the run's start. Still 3 with the
# journal in JSON (migration 0012): the steps are the same and the migration converts the older entries, so runs
# begun before it replay after it; a bump would leave them to workers of a release that cannot read JSON.
WORKFLOW_VERSION = "3"
QUEUE_NAME = "agentruns-runs"
WORKFLOW_NAME = "agentruns.run"


def workflow_id_for(run_id: str, resume: int = 0) -> str:
    """The id of the durable workflow that executes a run, or of the one that resumes it after its wait `resume`."""
    base = "wrun_" + run_id.removeprefix("run_")
    return f"{base}_{resume}" if resume else base
