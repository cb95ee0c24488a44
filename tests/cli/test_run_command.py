"""`agentruns run PROMPT --agent ID`: start a run, show it live, end with its output; a real worker runs it."""

import os
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import Invoke, json_of
from tests.support.workers import WorkerProcess

AGENTRUNS = str(Path(sys.executable).with_name("agentruns"))
PROMPT = 'think Look first.\ncall bash {"command": "echo hello"}\nreply All done.'


def test_run_shows_the_steps_live_and_ends_with_the_output(
    agentruns: Invoke, base_url: str, api_key: str, worker: WorkerProcess
) -> None:
    agent = json_of(agentruns("agents", "create", "--name", "Helper", "--instructions", "Help.", "--json",
                              "--model", "offline/scripted"))  # fmt: skip
    environment = os.environ | {"AGENTRUNS_URL": base_url, "AGENTRUNS_API_KEY": api_key}
    result = subprocess.run(
        [AGENTRUNS, "run", "--agent", agent["id"], PROMPT], env=environment, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr + "".join(worker.output)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("run run_")
    assert "thinking: Look first." in lines
    assert any(line.startswith("→ bash") and "echo hello" in line for line in lines)
    assert "All done." in lines
    assert lines[-1].startswith("completed · ") and "4 steps" in lines[-1]


def test_run_json_prints_the_details_of_the_finished_run(agentruns: Invoke, worker: WorkerProcess) -> None:
    agent = json_of(agentruns("agents", "create", "--name", "Helper", "--instructions", "Help.", "--json",
                              "--model", "offline/scripted"))  # fmt: skip
    details = json_of(agentruns("run", "--agent", agent["id"], "reply Fine.", "--json"))
    assert details["status"] == "completed", worker.output
    assert details["result"]["output"] == "Fine."


def test_run_without_an_agent_executes_on_an_ephemeral_one(agentruns: Invoke, worker: WorkerProcess) -> None:
    details = json_of(agentruns("run", "reply Fine.", "--model", "offline/scripted", "--json"))
    assert (details["status"], details["result"]["output"]) == ("completed", "Fine.")
    assert json_of(agentruns("agents", "get", details["agentId"], "--json"))["isActive"] is False


def test_a_run_that_fails_exits_with_status_1_and_says_why(agentruns: Invoke, worker: WorkerProcess) -> None:
    agent = json_of(agentruns("agents", "create", "--name", "Helper", "--instructions", "Help.", "--json",
                              "--model", "openai/gpt-4o"))  # fmt: skip
    result = agentruns("run", "--agent", agent["id"], "Say hello.")
    assert result.exit_code == 1, result.output
    assert "failed: AUTHORIZATION_ERROR" in result.stdout
    assert "OPENAI_API_KEY" in result.stdout
