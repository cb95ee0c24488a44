"""What agentruns reads and writes of DBOS's own tables is still there, as DBOS makes them: a DBOS upgrade that
renames a column or a status fails here, and says which."""

from collections.abc import Iterator

import pytest
from dbos import WorkflowStatusString
from sqlalchemy import Engine, String, create_engine, inspect

from agentruns.storage import dbos_tables
from agentruns.storage.database import driver_url
from tests.support.portal import AsyncBridge

ENDED = {"SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"}
DBOS_STATUSES = {"PENDING", "ENQUEUED", "DELAYED", *ENDED}
"""Every status DBOS gives a workflow, as this version of agentruns knows them."""


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    """A synchronous engine on the database under test, whose DBOS tables DBOS made (`migrate.upgrade`)."""
    engine = create_engine(driver_url(database_url, asynchronous=False))
    yield engine
    engine.dispose()


def test_every_column_agentruns_uses_is_in_dbos_s_tables_and_holds_text(engine: Engine) -> None:
    declared = dbos_tables.dbos_tables(engine.dialect.name)
    inspector = inspect(engine)
    for table in (declared.workflow_status, declared.operation_outputs):
        assert inspector.has_table(table.name, schema=table.schema), f"DBOS has no table {table.fullname} any more"
        actual = {column["name"]: column["type"] for column in inspector.get_columns(table.name, schema=table.schema)}
        for column in table.columns:
            assert column.name in actual, f"DBOS's {table.fullname} has no column {column.name} any more"
            assert isinstance(actual[column.name], String), f"{table.fullname}.{column.name} is no longer text"


def test_the_statuses_agentruns_tells_apart_are_all_of_dbos_s() -> None:
    # A new status must be sorted into ended or not (`ENDED_WORKFLOW_STATUSES`) before agentruns runs on it.
    assert {status.value for status in WorkflowStatusString} == DBOS_STATUSES
    assert set(dbos_tables.ENDED_WORKFLOW_STATUSES) == ENDED


def test_every_statement_on_dbos_s_tables_runs_on_the_database(bridge: AsyncBridge) -> None:
    """Each statement against the real tables, on workflows that do not exist: nothing found, nothing changed."""

    async def run_them() -> None:
        async with bridge.db.read() as session:
            assert list(await dbos_tables.runs_to_stop(session, ["run_none"])) == []
            assert list(await dbos_tables.ended_workflows(session, ["wrun_none"])) == []
            assert await dbos_tables.other_version_workflows(session, "no-executor", "0") == 0
            await dbos_tables.orphaned_runs(session, limit=1)
            claim = await session.run_sync(lambda sync: dbos_tables.claim_of(sync.connection(), "wrun_none"))
            assert claim == (None, None)
        async with bridge.db.write() as session:
            assert await dbos_tables.adopt_unstarted_workflows(session, "no-such-queue", "0") == 0

    bridge.call(run_them)
