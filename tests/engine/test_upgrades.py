"""An upgrade that changes the workflow version: runs queued by the older version and never begun still run."""

from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from agentruns.engine import client as engine_client
from agentruns.engine.names import WORKFLOW_VERSION
from agentruns.storage.database import system_database_url
from tests.engine.conftest import wait_for_status
from tests.support.factories import make_agent, make_run
from tests.support.workers import WorkerProcess


def _dbos_table(url: str, name: str) -> str:
    return name if url.startswith("sqlite") else f"dbos.{name}"


def test_a_worker_runs_what_an_older_version_queued_unless_it_began_there(
    fresh: tuple[str, httpx.Client], workspaces: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, client = fresh
    monkeypatch.setattr(engine_client, "WORKFLOW_VERSION", "1")  # an API process not upgraded yet
    agent = make_agent(client)
    queued, begun, journaled = (make_run(client, agent["id"]) for _ in range(3))
    workflow_ids = {run["id"]: client.post(f"/agent/v1/run/{run['id']}/exec").json()["workflowId"]
                    for run in (queued, begun, journaled)}  # fmt: skip
    workflows, steps = _dbos_table(url, "workflow_status"), _dbos_table(url, "operation_outputs")
    engine = create_engine(system_database_url(url).replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as connection:  # `begun` recorded a step under version 1: only version 1 can replay it
            connection.execute(
                text(f"INSERT INTO {steps} (workflow_uuid, function_id, function_name, retention_timestamp) "  # noqa: S608
                     "VALUES (:id, 1, 'agentruns.start', 0)"),
                {"id": workflow_ids[begun["id"]]},
            )  # fmt: skip
            # `journaled` began as a first execution does since version 3: its start is journaled, not a step.
            connection.execute(
                text("INSERT INTO run_journal (run_id, execution, number, value) VALUES (:id, 0, 0, :value)"),
                {"id": journaled["id"], "value": '{"start":{}}'},
            )
        worker = WorkerProcess(url, workspaces)
        try:
            assert wait_for_status(client, queued["id"])["status"] == "completed"
        finally:
            worker.stop()
        with engine.connect() as connection:
            query = text(f"SELECT workflow_uuid, application_version FROM {workflows}")  # noqa: S608
            versions = {row[0]: row[1] for row in connection.execute(query)}
    finally:
        engine.dispose()
    assert versions == {
        workflow_ids[queued["id"]]: WORKFLOW_VERSION, workflow_ids[begun["id"]]: "1", workflow_ids[journaled["id"]]: "1"
    }  # fmt: skip
    for run in (begun, journaled):
        assert client.get(f"/agent/v1/run/{run['id']}/status").json()["status"] == "queued"
