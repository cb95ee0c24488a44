"""A run's sandbox in the engine: shown on the run, closed by keeping or deleting its workspace, then swept."""

import os
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from agentruns import clock
from agentruns.engine.recorder import DatabaseRecorder
from agentruns.engine.sandboxes import check_worker, close_sandbox, discard_sandbox, start_sandbox
from agentruns.engine.workspace_sweep import sweep
from agentruns.sandbox.errors import SandboxError, SandboxUnavailable
from agentruns.sandbox.plugins import ENTRY_POINT_GROUP
from agentruns.sandbox.protocol import Sandbox
from agentruns.settings import Settings
from agentruns.storage.database import Database
from agentruns.storage.models import Run
from agentruns.storage.queries import audit, run_states
from tests.support.factories import error_of, make_agent, make_run
from tests.support.portal import AsyncBridge
from tests.support.workflows import start_run

AS_ROOT = os.geteuid() == 0


def _new_run(client: httpx.Client) -> str:
    return make_run(client, make_agent(client)["id"])["id"]


async def _shown_sandbox(settings: Settings, recorder: DatabaseRecorder) -> Sandbox:
    """The run's sandbox started and shown now, as a resumed run's workflow does (`start_sandbox`, then `flush`)."""
    sandbox = await start_sandbox(settings, recorder, cpu=1, memory_mib=256)
    await recorder.flush()
    return sandbox


async def _row(db: Database, run_id: str) -> Run:
    async with db.read() as session:
        run = await session.scalar(select(Run).where(Run.id == run_id))
    assert run is not None
    return run


def test_a_finished_runs_workspace_is_deleted_when_none_is_kept(
    client: httpx.Client, bridge: AsyncBridge, database_url: str, workspaces: Path
) -> None:
    run_id = _new_run(client)
    settings = Settings(database_url=database_url, workspace_root=str(workspaces), workspace_keep_seconds=0)

    async def scenario() -> tuple[Run, str, Run]:
        await start_run(bridge.db, run_id)
        recorder = DatabaseRecorder(bridge.db, run_id, "offline/scripted")
        sandbox = await _shown_sandbox(settings, recorder)
        shown = await _row(bridge.db, run_id)
        written = (await sandbox.run("echo note > note.txt; ls")).stdout
        await close_sandbox(sandbox, settings, recorder, run_ended=True)
        return shown, written, await _row(bridge.db, run_id)

    shown, written, closed = bridge.call(scenario)

    assert (shown.provider, shown.runtime_id, shown.runtime_state) == ("bubblewrap", run_id, "running")
    assert written == "note.txt\n"
    assert closed.runtime_state == "ended"
    assert not (workspaces / run_id).exists()
    runtime_log = client.get(f"/agent/v1/run/{run_id}").json()["result"]["logs"]["runtime"]
    assert f"sandbox bubblewrap {run_id} started: 1 cpu, 256 MiB memory" in runtime_log
    assert "network off" in runtime_log
    assert "the workspace was deleted" in runtime_log


def test_a_stopping_worker_leaves_the_workspace_to_the_resumed_run(
    client: httpx.Client, bridge: AsyncBridge, database_url: str, workspaces: Path
) -> None:
    run_id = _new_run(client)
    settings = Settings(database_url=database_url, workspace_root=str(workspaces))

    async def scenario() -> tuple[str, Run, Run]:
        await start_run(bridge.db, run_id)
        recorder = DatabaseRecorder(bridge.db, run_id, "offline/scripted")
        first = await _shown_sandbox(settings, recorder)
        await first.run("echo before > state.txt")
        await close_sandbox(first, settings, recorder, run_ended=False)
        stopped = await _row(bridge.db, run_id)
        second = await _shown_sandbox(settings, recorder)
        found = (await second.run("cat state.txt")).stdout
        await close_sandbox(second, settings, recorder, run_ended=True)
        return found, stopped, await _row(bridge.db, run_id)

    found, stopped, closed = bridge.call(scenario)

    assert found == "before\n"
    assert stopped.runtime_state == "running"
    assert closed.runtime_state == "archived"
    assert (workspaces / run_id / "state.txt").read_text() == "before\n"


def test_a_run_starts_with_its_sandbox_shown_and_one_cancelled_meanwhile_leaves_no_workspace(
    client: httpx.Client, bridge: AsyncBridge, database_url: str, workspaces: Path
) -> None:
    started_id, cancelled_id = _new_run(client), _new_run(client)
    assert client.post(f"/agent/v1/run/{cancelled_id}/cancel").status_code == 200
    settings = Settings(database_url=database_url, workspace_root=str(workspaces))

    async def start(run_id: str) -> tuple[Run, bool, Run]:
        recorder = DatabaseRecorder(bridge.db, run_id, "offline/scripted")
        sandbox = await start_sandbox(settings, recorder, cpu=1, memory_mib=256)
        noted = await _row(bridge.db, run_id)  # noted, not written yet
        began = await recorder.start(clock.now())
        if not began:
            await discard_sandbox(sandbox)
        return noted, began, await _row(bridge.db, run_id)

    noted, began, shown = bridge.call(start, started_id)
    assert (noted.status, noted.runtime_state, began) == ("queued", None, True)
    assert (shown.status, shown.provider, shown.runtime_id, shown.runtime_state) == (
        "running", "bubblewrap", started_id, "running",
    )  # fmt: skip
    assert (workspaces / started_id).is_dir()
    assert "started: 1 cpu, 256 MiB" in client.get(f"/agent/v1/run/{started_id}").json()["result"]["logs"]["runtime"]

    _, began, cancelled = bridge.call(start, cancelled_id)
    assert (began, cancelled.status, cancelled.runtime_state) == (False, "cancelled", None)
    assert not (workspaces / cancelled_id).exists()
    assert client.get(f"/agent/v1/run/{cancelled_id}").json()["result"]["logs"]["runtime"] == ""


@pytest.mark.skipif(not AS_ROOT, reason="only a root service hands workspaces to another user")
def test_a_sandbox_that_cannot_start_shows_the_error(
    client: httpx.Client, bridge: AsyncBridge, database_url: str, tmp_path: Path
) -> None:
    run_id = _new_run(client)
    unreachable = tmp_path / "workspaces"  # under pytest's 0700 directory, which `nobody` cannot pass
    settings = Settings(database_url=database_url, workspace_root=str(unreachable))

    async def scenario() -> Run:
        await start_run(bridge.db, run_id)
        recorder = DatabaseRecorder(bridge.db, run_id, "offline/scripted")
        with pytest.raises(SandboxError, match="not searchable"):
            await start_sandbox(settings, recorder, cpu=1, memory_mib=256)
        await recorder.flush()  # as the workflow writes what the failed start noted
        return await _row(bridge.db, run_id)

    assert bridge.call(scenario).runtime_state == "error"


@pytest.mark.skipif(not AS_ROOT, reason="only a root service hands workspaces to another user")
def test_a_worker_refuses_a_workspace_root_its_sandboxes_cannot_reach(tmp_path: Path) -> None:
    settings = Settings(workspace_root=str(tmp_path / "workspaces"))  # under pytest's 0700 directory

    with pytest.raises(SandboxUnavailable, match="is not searchable by it") as refused:
        check_worker(settings)

    assert "AGENTRUNS_WORKSPACE_ROOT" in str(refused.value)


def test_the_sweep_deletes_the_workspaces_of_runs_that_ended_long_enough_ago(
    client: httpx.Client, bridge: AsyncBridge, workspaces: Path
) -> None:
    ended, active = _new_run(client), _new_run(client)
    strangers = ["run_0000000000notinthisdatabase", "not-a-run"]
    for name in (ended, active, *strangers):
        (workspaces / name).mkdir(parents=True)
        (workspaces / name / "file.txt").write_text("x")

    async def scenario() -> tuple[list[str], list[str], Run]:
        for run_id in (ended, active):
            await start_run(bridge.db, run_id)
        async with bridge.db.write() as session:
            await run_states.complete(session, ended, clock.now(), "done")
            await audit.set_runtime(session, ended, provider="bubblewrap", runtime_id=ended, runtime_state="archived")
        early = await sweep(bridge.db, workspaces, keep_seconds=60, now=clock.now())
        late = await sweep(bridge.db, workspaces, keep_seconds=60, now=clock.now() + timedelta(seconds=61))
        return early, late, await _row(bridge.db, ended)

    early, late, swept = bridge.call(scenario)

    assert (early, late) == ([], [ended])
    assert swept.runtime_state == "ended"
    assert sorted(path.name for path in workspaces.iterdir()) == sorted([active, *strangers])
    message = error_of(client.get(f"/agent/v1/run/{ended}/files"), 404, "RESOURCE_NOT_FOUND")
    assert "was deleted" in message
    assert "AGENTRUNS_WORKSPACE_KEEP_SECONDS" in message


def test_a_provider_plugin_is_chosen_by_setting_and_a_missing_one_refused(
    client: httpx.Client, bridge: AsyncBridge, database_url: str, workspaces: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    with pytest.raises(SandboxUnavailable, match="no sandbox provider 'e2b' is installed"):
        check_worker(Settings(workspace_root=str(workspaces), sandbox_provider="e2b"))
    dist_info = tmp_path / "agentruns_example_sandbox-1.0.dist-info"  # the example plugin, installed
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: agentruns-example-sandbox\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nexample = tests.sandbox.plugin_example:make\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    settings = Settings(database_url=database_url, workspace_root=str(workspaces), sandbox_provider="example")
    run_id = _new_run(client)

    async def scenario() -> Run:
        await start_run(bridge.db, run_id)
        recorder = DatabaseRecorder(bridge.db, run_id, "offline/scripted")
        sandbox = await _shown_sandbox(settings, recorder)
        await close_sandbox(sandbox, settings, recorder, run_ended=True)
        return await _row(bridge.db, run_id)

    assert check_worker(settings) == "example"
    assert (bridge.call(scenario).provider, client.get(f"/agent/v1/run/{run_id}/files").status_code) == ("example", 501)
