"""`agentruns execute PROMPT`: the one-call execute, followed live like `agentruns run --agent ID`."""

import json
import os
import subprocess

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from typer.testing import CliRunner

from agentruns.cli import app
from agentruns.cli.execute import execute_options
from agentruns.client import calls
from tests.cli.conftest import Invoke
from tests.cli.test_run_command import AGENTRUNS, PROMPT
from tests.support.servers import serving
from tests.support.workers import WorkerProcess


def test_execute_sends_each_field_by_its_wire_name() -> None:
    options = execute_options(
        instructions="Be brief.", model="offline/scripted", guidance="Now.", vault_ids=["vault_1"],
        object_ids=["obj_1"], enabled_tools=["bash"], cpu=2, memory_mib=1024,
    )  # fmt: skip
    assert calls.execute("Hi.", options).body == {
        "prompt": "Hi.",
        "instructions": "Be brief.",
        "model": "offline/scripted",
        "guidance": "Now.",
        "vaultIds": ["vault_1"],
        "objectIds": ["obj_1"],
        "enabledTools": ["bash"],
        "sandbox": {"cpu": 2, "memoryMiB": 1024},
    }
    assert calls.execute("Hi.", execute_options(disabled_tools=["webfetch"])).body == {
        "prompt": "Hi.",
        "disabledTools": ["webfetch"],
    }


def test_execute_shows_the_run_live_and_ends_with_its_output(agentruns: Invoke, worker: WorkerProcess) -> None:
    result = agentruns("execute", PROMPT, "--model", "offline/scripted", "--enable-tool", "bash")
    assert result.exit_code == 0, result.output + "".join(worker.output)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("run run_")
    assert "thinking: Look first." in lines
    assert any(line.startswith("→ bash") and "echo hello" in line for line in lines)
    assert "All done." in lines
    assert lines[-1].startswith("completed · ") and "4 steps" in lines[-1]


def test_execute_as_a_subprocess_exits_by_how_the_run_ended_and_prints_its_details(
    base_url: str, api_key: str, worker: WorkerProcess
) -> None:
    environment = os.environ | {"AGENTRUNS_URL": base_url, "AGENTRUNS_API_KEY": api_key}

    def execute(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [AGENTRUNS, "execute", *args, "--json"], env=environment, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip

    completed = execute("reply Fine.", "--model", "offline/scripted", "--instructions", "Be brief.")
    assert completed.returncode == 0, completed.stderr + "".join(worker.output)
    details = json.loads(completed.stdout)
    assert (details["status"], details["result"]["output"]) == ("completed", "Fine.")
    failed = execute("Say hello.", "--model", "openai/gpt-4o")  # the worker has no OpenAI key
    assert failed.returncode == 1, failed.stderr
    details = json.loads(failed.stdout)
    assert (details["status"], details["error"]["code"]) == ("failed", "AUTHORIZATION_ERROR")


def test_execute_refused_by_the_server_says_why(agentruns: Invoke) -> None:
    result = agentruns("execute", "reply Hi.", "--enable-tool", "bash", "--disable-tool", "grep")
    assert result.exit_code == 1
    assert "INVALID_INPUT (400)" in result.stderr


async def _not_served(_request: Request) -> JSONResponse:
    body = {"error": {"code": "NOT_IMPLEMENTED", "message": "the one-call execute is not served by this version"}}
    return JSONResponse(body, status_code=501)


def test_execute_on_a_server_without_the_route_says_what_to_do_instead() -> None:
    # An older agentruns answered 501 here; the command says how to run a prompt there all the same.
    older = Starlette(routes=[Route("/agent/v1/execute", _not_served, methods=["POST"])])
    with serving(older) as url:
        environment = {"AGENTRUNS_URL": url, "AGENTRUNS_API_KEY": "key", "AGENTRUNS_CONFIG": os.devnull}
        for command in (["execute", "reply Hi."], ["run", "reply Hi."]):
            result = CliRunner().invoke(app, command, env=environment)
            assert result.exit_code == 1
            assert "does not serve the one-call execute (POST /agent/v1/execute) yet" in result.stderr
            assert "agentruns run --agent AGENT_ID PROMPT" in result.stderr
