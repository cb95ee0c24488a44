"""`agentruns agents …` and `agentruns runs …` against the real server, through the client SDK."""

import json

from tests.cli.conftest import Invoke, json_of
from tests.client.test_imports import imported_by
from tests.support.servers import free_port


def _agent(agentruns: Invoke, *extra: str) -> str:
    created = json_of(agentruns("agents", "create", "--name", "Helper", "--instructions", "Help.", "--json", *extra))
    return created["id"]


def test_agents_commands_round_trip(agentruns: Invoke) -> None:
    created = json_of(
        agentruns(
            "agents", "create", "--name", "Janitor", "--instructions", "Tidy up.", "--model", "offline/scripted",
            "--enable-tool", "bash", "--enable-tool", "read", "--cpu", "1", "--memory-mib", "512", "--json",
        )
    )  # fmt: skip
    assert created["enabledTools"] == ["bash", "read"]
    assert created["sandbox"] == {"cpu": 1, "memoryMiB": 512}
    agent_id = created["id"]
    shown = agentruns("agents", "get", agent_id)
    assert shown.exit_code == 0
    assert "Janitor" in shown.stdout and "offline/scripted" in shown.stdout
    updated = json_of(agentruns("agents", "update", agent_id, "--cpu", "4", "--clear", "enabled-tools", "--json"))
    assert updated["sandbox"] == {"cpu": 4, "memoryMiB": 512}  # the memory it had is kept
    assert updated["enabledTools"] is None
    assert updated["name"] == "Janitor"
    listed = json_of(agentruns("agents", "list", "--json"))
    assert [agent["id"] for agent in listed["agents"]] == [agent_id]
    assert listed["hasMore"] is False
    table = agentruns("agents", "list")
    assert agent_id in table.stdout
    assert json_of(agentruns("agents", "delete", agent_id, "--json")) == {"ok": True}
    assert json_of(agentruns("agents", "get", agent_id, "--json"))["isActive"] is False


def test_list_all_walks_every_page(agentruns: Invoke) -> None:
    ids = [_agent(agentruns) for _ in range(3)]
    page = json_of(agentruns("agents", "list", "--limit", "2", "--json"))
    assert page["hasMore"] is True
    every = json_of(agentruns("agents", "list", "--limit", "2", "--all", "--json"))
    assert [agent["id"] for agent in every["agents"]] == ids[::-1]
    more = agentruns("agents", "list", "--limit", "2")
    assert f"--cursor {page['nextCursor']}" in more.stdout


def test_runs_commands_without_a_worker(agentruns: Invoke) -> None:
    agent_id = _agent(agentruns, "--model", "offline/scripted")
    run = json_of(agentruns("runs", "create", agent_id, "Do it.", "--guidance", "Briefly.", "--json"))
    assert run["status"] == "queued"
    assert json_of(agentruns("runs", "status", run["id"], "--json"))["status"] == "queued"
    details = json_of(agentruns("runs", "details", run["id"], "--json"))
    assert (details["prompt"], details["guidance"]) == ("Do it.", "Briefly.")
    listed = json_of(agentruns("runs", "list", "--agent", agent_id, "--status", "queued", "--json"))
    assert [item["id"] for item in listed["runs"]] == [run["id"]]
    assert json_of(agentruns("runs", "cancel", run["id"], "--json"))["status"] == "cancelled"
    human = agentruns("runs", "details", run["id"])
    assert human.exit_code == 0
    assert "cancelled" in human.stdout
    again = agentruns("runs", "exec", run["id"])
    assert again.exit_code == 1
    assert "CONFLICT (409)" in again.stderr
    every = json_of(agentruns("runs", "list", "--all", "--json"))
    assert [item["id"] for item in every["runs"]] == [run["id"]]


def test_events_of_a_finished_run_are_printed_one_json_object_a_line(agentruns: Invoke) -> None:
    agent_id = _agent(agentruns, "--model", "offline/scripted")
    run = json_of(agentruns("runs", "create", agent_id, "Do it.", "--json"))
    agentruns("runs", "cancel", run["id"])
    result = agentruns("runs", "events", run["id"], "--json")
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[-1]["event"] == "run.cancelled"
    assert [event["id"] for event in events] == list(range(1, len(events) + 1))


def test_routes_not_served_yet_say_so(agentruns: Invoke) -> None:
    agent_id = _agent(agentruns, "--model", "offline/scripted")
    run = json_of(agentruns("runs", "create", agent_id, "Do it.", "--json"))
    watched = agentruns("runs", "watch", run["id"], "https://example.com/hook")  # served since the events issue
    assert watched.exit_code == 0, watched.stderr
    assert "https://example.com/hook" in watched.stdout
    answered = agentruns("runs", "input", run["id"], "yes")  # served: a queued run waits for no answer
    assert answered.exit_code == 1
    assert "CONFLICT (409)" in answered.stderr


def test_errors_are_one_clear_line(agentruns: Invoke, base_url: str) -> None:
    missing = agentruns("runs", "status", "run_missing")
    assert missing.exit_code == 1
    assert "RESOURCE_NOT_FOUND (404)" in missing.stderr
    invalid = agentruns("agents", "create", "--name", "x", "--instructions", "y", "--model", "nope")
    assert invalid.exit_code == 1
    assert "INVALID_INPUT (400)" in invalid.stderr and "body.model" in invalid.stderr
    refused = agentruns("agents", "list", env={"AGENTRUNS_API_KEY": "wrong"})
    assert refused.exit_code == 1
    assert "AUTHORIZATION_ERROR (401)" in refused.stderr
    keyless = agentruns("agents", "list", env={"AGENTRUNS_API_KEY": ""})
    assert keyless.exit_code == 2
    assert "--api-key" in keyless.stderr and "AGENTRUNS_API_KEY" in keyless.stderr
    nowhere = f"http://127.0.0.1:{free_port()}"
    unreachable = agentruns("agents", "list", "--url", nowhere)
    assert unreachable.exit_code == 1
    assert f"cannot reach agentruns at {nowhere}" in unreachable.stderr
    flagged = agentruns("agents", "list", "--url", base_url, "--api-key", "wrong")
    assert "AUTHORIZATION_ERROR" in flagged.stderr  # flags win over the environment


def test_the_command_line_loads_no_server_module_until_a_server_command_runs() -> None:
    # Every `agentruns runs …` imports the whole CLI: it must not pay for the engine, storage or web stack.
    assert imported_by("agentruns.cli") == []
