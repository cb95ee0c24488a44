"""The Alembic migrations build exactly the schema of `storage.models`, on SQLite and PostgreSQL."""

import json
import os
import pickle
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import psycopg
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic_ai.exceptions import ToolFailedError
from pydantic_ai.messages import ModelResponse, ToolCallPart, ToolReturnPart
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from agentruns.agent.deps import RunDeps, ToolOutcome
from agentruns.agent.loop import RunSpec
from agentruns.cli import app
from agentruns.engine.journal import Raised, ReplayedError
from agentruns.engine.workflow import StartedRun, read_start
from agentruns.events.signing import new_secret
from agentruns.sandbox.egress.log import Connection, Taken
from agentruns.schemas.agents import AgentCreate
from agentruns.schemas.runs import RunCreate
from agentruns.services.agents import create_agent
from agentruns.services.auth import issue_key
from agentruns.services.runs import create_run
from agentruns.settings import get_settings
from agentruns.storage import migrate
from agentruns.storage.database import Database, driver_url
from agentruns.storage.models import Base
from agentruns.storage.secret_box import SecretBox, new_key
from tests.support.databases import database_url_for, needs_postgresql, postgres_database
from tests.support.portal import async_bridge
from tests.support.raw_database import forms_of, raw_database


def ours(name: str | None, type_: str, _parent_names: object) -> bool:
    return type_ != "table" or name in Base.metadata.tables


def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(driver_url(database_url, asynchronous=False))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_name": ours})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_the_database_is_at_the_newest_revision_and_upgrade_is_idempotent(database_url: str) -> None:
    head = ScriptDirectory.from_config(migrate.alembic_config(database_url)).get_current_head()
    assert migrate.current_revision(database_url) == head
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == head


def test_a_new_sqlite_file_is_created_with_its_directory_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "agentruns.db"
    migrate.upgrade(f"sqlite:///{path}")
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"organizations", "api_keys", "agents", "runs", "run_steps", "usage_entries", "run_logs"} <= tables


def test_processes_starting_together_migrate_once() -> None:
    with postgres_database() as url:
        environment = os.environ | {"AGENTRUNS_DATABASE_URL": url}
        agentruns = str(Path(sys.executable).with_name("agentruns"))
        starts = [
            subprocess.Popen(
                [agentruns, "db", "upgrade"], env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            for _ in range(4)
        ]
        outputs = [start.communicate(timeout=120)[0].decode() for start in starts]
        assert [start.returncode for start in starts] == [0, 0, 0, 0], outputs
        head = ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()
        assert migrate.current_revision(url) == head
        assert all(f"database at revision {head}" in output for output in outputs)


@needs_postgresql
def test_the_events_function_plans_its_statements_once_per_connection() -> None:
    # Left to PostgreSQL's choice, a database without statistics re-planned the function's INSERT at every append.
    with postgres_database() as url:
        migrate.upgrade(url)
        with psycopg.connect(url) as connection:
            row = connection.execute(
                "SELECT proconfig FROM pg_proc WHERE proname = 'agentruns_append_events'"
            ).fetchone()
    assert row is not None and "plan_cache_mode=force_generic_plan" in (row[0] or [])


def _store_plain_secret(url: str, secret: str) -> None:
    engine = create_engine(driver_url(url, asynchronous=False))
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO organizations VALUES ('org_old', 'old', '2026-01-01 00:00:00+00')"))
            connection.execute(
                text("INSERT INTO webhook_secrets VALUES ('org_old', 1, :secret, '2026-01-01 00:00:00+00', NULL)"),
                {"secret": secret},
            )
    finally:
        engine.dispose()


def _stored(url: str, column: str) -> list[str]:
    engine = create_engine(driver_url(url, asynchronous=False))
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(f"SELECT {column} FROM webhook_secrets")).scalars())  # noqa: S608
    finally:
        engine.dispose()


def test_0011_encrypts_the_stored_secrets_and_its_downgrade_decrypts_them(backend: str, tmp_path: Path) -> None:
    plain = new_secret()
    box = SecretBox([new_key()])
    with database_url_for(backend, tmp_path) as url:
        migrate.upgrade(url, "0009")
        _store_plain_secret(url, plain)
        migrate.upgrade(url, secrets=box)
        [sealed] = _stored(url, "sealed_secret")
        assert box.open(sealed) == plain
        copy = raw_database(url)  # on SQLite the old rows' pages were zeroed, not just freed
        assert not [form for form in forms_of(plain) if form in copy]
        command.downgrade(migrate.alembic_config(url, box), "0009")
        assert _stored(url, "secret") == [plain]


@needs_postgresql
def test_0011_on_postgresql_without_a_key_stops_naming_the_setting_and_changes_nothing() -> None:
    plain = new_secret()
    with postgres_database() as url:
        migrate.upgrade(url, "0009")
        _store_plain_secret(url, plain)
        get_settings.cache_clear()
        try:  # `agentruns db upgrade` in this process, with no secrets key in its environment
            upgraded = CliRunner().invoke(
                app, ["db", "upgrade"], env={"AGENTRUNS_DATABASE_URL": url, "AGENTRUNS_SECRETS_KEY": None}
            )
        finally:
            get_settings.cache_clear()
        assert upgraded.exit_code == 2, upgraded.output
        assert "AGENTRUNS_SECRETS_KEY" in upgraded.stderr and upgraded.exception is not None
        assert migrate.current_revision(url) == "0009"
        assert _stored(url, "secret") == [plain]


def _pickled_journal(run_id: str) -> tuple[list[bytes], StartedRun, ModelResponse, ToolOutcome, ToolFailedError]:
    """Entries 0 to 5 of a run's first execution as the release before 0012 pickled them; the last one unreadable."""
    spec = RunSpec(run_id=run_id, prompt="Do it.", instructions="Help.", model="offline/scripted",
                   enabled_tools=None, disabled_tools=["webfetch"], max_model_requests=20)  # fmt: skip
    started = StartedRun(spec=spec, started_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
                         time_limit_seconds=1800.0, sandbox_cpu=1, sandbox_memory_mib=512,
                         network_allow=["pypi.org"])  # fmt: skip
    response = ModelResponse(parts=[ToolCallPart("read", {"path": "a.txt"}, "call-1")], model_name="scripted")
    connection = Connection("pypi.org", 443, allowed=True, via="proxy", method="CONNECT", address="1.2.3.4", sent=9)
    outcome = ToolOutcome(output={"stdout": "one\n", "exit_code": 0}, duration_ms=12, printed="one\n",
                          network=Taken((connection,), 0))  # fmt: skip
    failed = ToolFailedError(ToolReturnPart("read", "'a.txt' does not exist", "call-1", outcome="failed"))
    entries = [started, response, outcome, Raised(failed), Raised(ValueError("boom"))]
    return [pickle.dumps(entry) for entry in entries] + [b"no pickle"], started, response, outcome, failed


def test_0012_converts_a_pickled_journal_to_json_that_a_replay_reads(backend: str, tmp_path: Path) -> None:
    with database_url_for(backend, tmp_path) as url:
        migrate.upgrade(url, "0011")
        with async_bridge(url) as bridge:
            org = bridge.call(issue_key, bridge.db, "old").org_id
            agent = bridge.call(create_agent, bridge.db, org, AgentCreate(name="a", instructions="Help."))
            run_id = bridge.call(create_run, bridge.db, org, RunCreate(agent_id=agent.id, prompt="Do it.")).id
        pickles, started, response, outcome, failed = _pickled_journal(run_id)
        engine = create_engine(driver_url(url, asynchronous=False))
        try:
            with engine.begin() as connection:
                connection.execute(
                    text("INSERT INTO run_journal (run_id, execution, number, value) VALUES (:id, 0, :number, :value)"),
                    [{"id": run_id, "number": number, "value": value} for number, value in enumerate(pickles)],
                )
        finally:
            engine.dispose()
        migrate.upgrade(url)

        async def replay(db: Database) -> tuple[StartedRun | None, list[Any], int]:
            journal, recorded, _ = await read_start(db, run_id)
            call, calls = ToolCallPart("read", {"path": "a.txt"}, "call-1"), []
            deps = cast(RunDeps, SimpleNamespace(printed=[], network=None))

            async def not_again() -> Any:
                calls.append("made again")
                return "made again"

            seen: list[Any] = [await journal.model_request(cast(Any, not_again))]
            seen.append(await journal.tool_call(call, deps, not_again))
            for _ in range(2):
                try:
                    await journal.tool_call(call, deps, not_again)
                except Exception as exc:
                    seen.append(exc)
            seen.append((await journal.tool_call(call, deps, not_again)).output)  # the dropped entry
            return recorded, seen, len(calls)

        with async_bridge(url) as bridge:
            recorded, seen, made_again = bridge.call(replay, bridge.db)
        stored = _journal_values(url)
    assert recorded == started
    assert seen[:2] == [response, outcome]
    assert isinstance(seen[2], ToolFailedError) and seen[2].tool_failed == failed.tool_failed
    assert (type(seen[3]).__name__, str(seen[3]), isinstance(seen[3], ReplayedError)) == ("ValueError", "boom", True)
    assert (seen[4], made_again) == ("made again", 1)  # only the unreadable entry's call is made again
    assert [next(iter(json.loads(value))) for value in stored] == ["start", "response", "outcome", "raised", "raised"]


def _journal_values(url: str) -> list[str]:
    engine = create_engine(driver_url(url, asynchronous=False))
    try:
        with engine.connect() as connection:
            return list(connection.execute(text("SELECT value FROM run_journal ORDER BY number")).scalars())
    finally:
        engine.dispose()
