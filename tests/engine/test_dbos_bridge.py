"""What agentruns calls of DBOS past its public API still does what the bridge says (`engine/dbos_bridge.py`), on a
DBOS launched in this process: a DBOS upgrade that renames or changes it fails here."""

import asyncio
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest
from dbos import DBOS, DBOSConfig
from sqlalchemy import Engine, create_engine, select, update

from agentruns.engine import dbos_bridge
from agentruns.storage import migrate
from agentruns.storage.database import driver_url, system_database_url
from agentruns.storage.dbos_tables import dbos_tables
from agentruns.storage.queries.owners import Owner
from tests.support.databases import database_url_for

VERSION, OLDER_VERSION = "bridge-test-2", "bridge-test-1"
OWNERS: list[tuple[Owner | None, str | None]] = []
"""The claim each execution of `noted_claim` saw, and the token on its workflow's row meanwhile, in order (DBOS
clears the token when the workflow ends)."""
DATABASE: list[Engine] = []
"""The engine of the test's database, for `noted_claim`."""


@DBOS.workflow(name="tests.dbos_bridge.noted_claim")
def noted_claim() -> None:
    """A workflow that notes the claim its execution holds, and the token on its row."""
    owner = dbos_bridge.current_owner()
    OWNERS.append((owner, None if owner is None else _row(DATABASE[0], owner.workflow_id)[2]))


@pytest.fixture
def launched(backend: str, tmp_path: Path) -> Iterator[Engine]:
    """DBOS launched on a fresh database of the backend under test, as executor `here`; an engine on the database."""
    with database_url_for(backend, tmp_path) as url:
        migrate.upgrade(url)
        config: DBOSConfig = {
            "name": "agentruns-bridge-test",
            "system_database_url": system_database_url(url),
            "executor_id": "here",
            "application_version": VERSION,
            "log_level": "WARNING",
        }
        engine = create_engine(driver_url(url, asynchronous=False))
        OWNERS.clear()
        DATABASE[:] = [engine]
        DBOS(config=config)
        try:  # destroyed even if it fails to launch: its threads would outlive the database
            DBOS.launch()
            yield engine
        finally:
            DBOS.destroy(workflow_completion_timeout_sec=0)
            DATABASE.clear()
            engine.dispose()


def _row(engine: Engine, workflow_id: str) -> tuple[str | None, str | None, str | None]:
    """(status, executor, claim token) of the workflow's row."""
    workflows = dbos_tables(engine.dialect.name).workflow_status
    query = select(workflows.c.status, workflows.c.executor_id, workflows.c.owner_xid)
    with engine.connect() as connection:
        row = connection.execute(query.where(workflows.c.workflow_uuid == workflow_id)).one()
    return row[0], row[1], row[2]


def _left_by_a_dead_executor(engine: Engine, workflow_id: str, version: str) -> None:
    """Put the workflow's row as an executor `gone` that died while running it under `version` leaves it."""
    workflows = dbos_tables(engine.dialect.name).workflow_status
    with engine.begin() as connection:
        connection.execute(
            update(workflows)
            .where(workflows.c.workflow_uuid == workflow_id)
            .values(status="PENDING", executor_id="gone", application_version=version)
        )


def test_an_execution_s_claim_is_the_token_on_its_workflow_s_row_and_there_is_none_outside(launched: Engine) -> None:
    assert dbos_bridge.current_owner() is None
    workflow_id = DBOS.start_workflow(noted_claim).workflow_id
    DBOS.retrieve_workflow(workflow_id).get_result()
    ((owner, on_the_row),) = OWNERS
    assert owner is not None, "DBOS gave the execution no claim (`owner_xid` on its context)"
    assert (owner.workflow_id, owner.token) == (workflow_id, on_the_row)


def test_recovery_resumes_a_dead_executor_s_workflows_of_this_version_under_a_new_claim(launched: Engine) -> None:
    ours, older = (DBOS.start_workflow(noted_claim).workflow_id for _ in range(2))
    for workflow_id in (ours, older):
        DBOS.retrieve_workflow(workflow_id).get_result()
    first_tokens = {token for _, token in OWNERS}
    _left_by_a_dead_executor(launched, ours, VERSION)
    _left_by_a_dead_executor(launched, older, OLDER_VERSION)

    assert asyncio.run(dbos_bridge.recover_workflows("gone")) == 1
    DBOS.retrieve_workflow(ours).get_result()
    status, executor, token = _row(launched, ours)
    assert (status, executor) == ("SUCCESS", "here")
    ((owner, on_the_row),) = OWNERS[len(first_tokens) :]
    assert owner is not None and owner.workflow_id == ours
    assert owner.token == on_the_row and owner.token not in first_tokens
    assert token is None  # cleared at the end, as on the first execution
    assert _row(launched, older)[:2] == ("PENDING", "gone")  # left for a worker of its version


def test_the_private_recovery_call_keeps_its_signature() -> None:
    # `recover_workflows` passes the executor ids positionally and counts the handles returned.
    parameters = list(inspect.signature(DBOS._recover_pending_workflows).parameters)  # pyright: ignore[reportPrivateUsage]
    assert parameters == ["executor_ids"]
