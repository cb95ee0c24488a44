"""The tools, driven through the agent loop in memory by the offline model (no durability), in a real sandbox."""

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import ModelResponse, ToolCallPart

from agentruns.agent.deps import RunDeps, ToolOutcome
from agentruns.agent.loop import RunSpec, build_agent, run_loop, run_tool
from agentruns.agent.tools import BUILTIN_TOOLS, select_tools
from agentruns.agent.tools.files import MAX_EDIT_BYTES
from agentruns.agent.tools.output import MAX_OUTPUT_CHARS
from agentruns.sandbox.bubblewrap import BubblewrapSandbox
from agentruns.sandbox.egress.access import NetworkAccess, network_access
from agentruns.sandbox.protocol import SandboxLimits
from agentruns.schemas.catalog import TOOL_NAMES
from agentruns.settings import Settings
from tests.support.workspaces import hand_over, reachable_directory


class ListRecorder:
    """Keeps what the loop reports."""

    def __init__(self) -> None:
        self.results: list[tuple[str, Any]] = []

    async def model_response(self, response: ModelResponse) -> None:
        return None

    async def tool_call(self, call: ToolCallPart) -> None:
        return None

    async def tool_result(self, call: ToolCallPart, outcome: ToolOutcome) -> None:
        self.results.append((call.tool_name, outcome.output))


@pytest.fixture
def workspace() -> Iterator[Path]:
    """A workspace directory (not created yet) that the sandbox's host user can reach."""
    with reachable_directory() as base:
        yield base / "run_test"


def run_script(
    workspace: Path,
    lines: list[str],
    settings: Settings | None = None,
    network: NetworkAccess | None = None,
    **spec: Any,
) -> tuple[str, list[tuple[str, Any]]]:
    recorder = ListRecorder()
    fields = {"enabled_tools": None, "disabled_tools": None} | spec
    run_spec = RunSpec(run_id="run_test", prompt="\n".join(lines), instructions="Test.", model="offline/scripted",
                       max_model_requests=50, **fields)  # fmt: skip

    async def run() -> str:
        hand_over(workspace)
        sandbox = BubblewrapSandbox(workspace, SandboxLimits(cpu=1, memory_mib=256, command_timeout_seconds=20))
        await sandbox.start()
        deps = RunDeps(run_id="run_test", sandbox=sandbox, settings=settings or Settings(), recorder=recorder,
                       tool_runner=run_tool, network=network)  # fmt: skip
        try:
            output = (await run_loop(build_agent(), run_spec, deps)).output
            assert isinstance(output, str), output  # these scripts never ask a question
            return output
        finally:
            await sandbox.stop()

    return asyncio.run(run()), recorder.results


def call(tool: str, **arguments: Any) -> str:
    return f"call {tool} {json.dumps(arguments)}"


def test_every_catalogued_tool_is_implemented() -> None:
    assert set(BUILTIN_TOOLS) == set(TOOL_NAMES)
    assert set(select_tools(["bash", "read"], None)) == {"bash", "read"}
    assert set(select_tools(None, ["webfetch"])) == set(TOOL_NAMES) - {"webfetch"}


def test_write_read_edit_glob_grep(workspace: Path) -> None:
    _, results = run_script(workspace, [
        call("write", path="src/app.py", content="def main():\n    return 'old'\n"),
        call("write", path="/workspace/README.md", content="hello old world\n"),
        call("edit", path="src/app.py", old_string="'old'", new_string="'new'"),
        call("read", path="src/app.py", offset=2, limit=1),
        call("glob", pattern="**/*.py"),
        call("grep", pattern="OLD", ignore_case=True),
    ])  # fmt: skip
    outputs = dict(results)
    assert (workspace / "src" / "app.py").read_text() == "def main():\n    return 'new'\n"
    assert outputs["read"] == "    return 'new'"
    assert outputs["glob"] == "src/app.py"
    assert outputs["grep"] == "README.md:1:hello old world"


def test_edit_refuses_an_ambiguous_or_missing_match(workspace: Path) -> None:
    workspace.mkdir()
    (workspace / "a.txt").write_text("x x x")
    _, results = run_script(workspace, [
        call("edit", path="a.txt", old_string="x", new_string="y"),
        call("edit", path="a.txt", old_string="z", new_string="y"),
        call("edit", path="a.txt", old_string="x", new_string="y", replace_all=True),
    ])  # fmt: skip
    assert "occurs 3 times" in str(results[0][1])
    assert "not found" in str(results[1][1])
    assert (workspace / "a.txt").read_text() == "y y y"


def test_paths_outside_the_workspace_are_refused(workspace: Path) -> None:
    workspace.mkdir()
    (workspace.parent / "secret.txt").write_text("top secret")
    (workspace / "link").symlink_to(workspace.parent / "secret.txt")
    (workspace / "etc").symlink_to("/etc")
    output, results = run_script(workspace, [
        call("read", path="../secret.txt"),
        call("read", path="link"),
        call("read", path="/etc/hostname"),
        call("write", path="/workspace/../escape.txt", content="x"),
        call("edit", path="etc/hostname", old_string="sandbox", new_string="x"),
        call("grep", pattern="secret", path=".."),
        call("grep", pattern="root", path="etc"),
        call("glob", pattern="*", path="/workspace/.."),
        call("glob", pattern="../*"),
    ])  # fmt: skip
    assert len(results) == 9
    assert all("outside /workspace" in str(result) or "must not contain" in str(result) for _, result in results), (
        results
    )
    assert "top secret" not in output
    assert not (workspace.parent / "escape.txt").exists()


def test_bash_runs_in_the_sandbox_and_shares_the_workspace_with_the_file_tools(workspace: Path) -> None:
    _, results = run_script(workspace, [
        call("write", path="notes/plan.md", content="step one\n"),
        call("bash", command="id -u; hostname; cat notes/plan.md; echo made > made.txt; ls /root"),
        call("read", path="made.txt"),
        call("bash", command="sleep 5", timeout_seconds=0.5),
    ])  # fmt: skip
    bash = results[1][1]
    assert bash["stdout"] == "1000\nsandbox\nstep one\n"
    assert "No such file or directory" in bash["stderr"]
    assert results[2][1] == "made"
    assert results[3][1]["exit_code"] is None
    assert "time limit of 1 s" in results[3][1]["stderr"]  # the shortest limit a command may ask for


def test_glob_and_grep_search_below_a_directory_and_explain_failures(workspace: Path) -> None:
    workspace.mkdir()
    (workspace / "src" / "deep").mkdir(parents=True)
    (workspace / "src" / "deep" / "a.py").write_text("import os\nvalue = 42\n")
    (workspace / "src" / "b.txt").write_text("value = 7\n")
    (workspace / ".hidden.py").write_text("value = 1\n")
    _, results = run_script(workspace, [
        call("glob", pattern="**/*.py", path="src"),
        call("glob", pattern="*.py"),
        call("grep", pattern=r"value = \d+", path="/workspace/src", include="*.py"),
        call("grep", pattern="nothing here"),
        call("grep", pattern="(unclosed"),
        call("glob", pattern="*", path="missing"),
    ])  # fmt: skip
    outputs = [output for _, output in results]
    assert outputs[0] == "src/deep/a.py"
    assert outputs[1] == ".hidden.py"
    assert outputs[2] == "src/deep/a.py:2:value = 42"
    assert outputs[3] == "no matches"
    assert "grep" in str(outputs[4])
    assert "missing does not exist" in str(outputs[5])


def test_webfetch_is_refused_while_the_network_is_off(workspace: Path) -> None:
    _, results = run_script(workspace, [call("webfetch", url="https://example.com")])
    assert "AGENTRUNS_SANDBOX_NETWORK" in str(results[0][1])


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.com/", "https://"),
        ("https://127.0.0.1/", "127.0.0.1"),
        ("https://127.1/", "127.0.0.1"),
        ("https://localhost/", "local name"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("https://[::ffff:10.0.0.1]/", "10.0.0.1"),
        ("https://user:secret@example.com/", "user name"),
    ],
)
def test_webfetch_refuses_what_is_not_a_public_https_address(workspace: Path, url: str, reason: str) -> None:
    # Every host is on the allowlist: what refuses them is the address rules (no packet is sent to any of them).
    allowed = ["example.com", "127.0.0.1", "127.1", "localhost", "169.254.169.254", "[::ffff:10.0.0.1]"]
    network = network_access("proxy", agent_allow=allowed, default_allow="")
    _, results = run_script(workspace, [call("webfetch", url=url)], network=network)
    assert "webfetch refuses" in str(results[0][1])
    assert reason in str(results[0][1])


def test_todowrite_keeps_the_list(workspace: Path) -> None:
    todos = [{"content": "plan", "status": "completed"}, {"content": "build"}]
    _, results = run_script(workspace, [call("todowrite", todos=todos)])
    assert results[0][1].startswith("2 task(s), 1 completed")


@pytest.mark.parametrize(("enabled", "disabled"), [(["read"], None), (None, ["bash"])])
def test_a_tool_not_allowed_is_not_offered(
    workspace: Path, enabled: list[str] | None, disabled: list[str] | None
) -> None:
    _, results = run_script(workspace, [call("bash", command="touch ran")], enabled_tools=enabled,
                            disabled_tools=disabled)  # fmt: skip
    assert results == []
    assert not (workspace / "ran").exists()


def test_read_shows_a_window_of_any_file_and_says_how_to_read_on(workspace: Path) -> None:
    workspace.mkdir()
    with (workspace / "sparse").open("wb") as file:
        file.truncate(4 * 1024 * 1024 * 1024)  # one line of 4 GiB of zeros, and no disk
    (workspace / "lines").write_bytes(b"ab\n" * (1 << 20))
    (workspace / "short.txt").write_text("one\ntwo\n")
    _, results = run_script(workspace, [
        call("read", path="sparse"),
        call("read", path="lines"),
        call("read", path="lines", offset=(1 << 20) - 1),
        call("read", path="short.txt", offset=5),
    ])  # fmt: skip
    sparse, lines, tail, past = (output for _, output in results)

    assert sparse.startswith("\0" * MAX_OUTPUT_CHARS + "\n[file cut: line 1 is longer than shown (30,000 characters)")
    assert len(sparse) < MAX_OUTPUT_CHARS + 200
    assert lines == "\n".join(["ab"] * 2000) + "\n[file cut: lines 1-2000 shown; read on with offset=2001]"
    assert tail == "ab\nab"
    assert past == "['short.txt' has 2 lines: offset 5 is past its end]"


def test_edit_refuses_a_result_over_its_bound_before_making_it_and_a_file_too_large_to_load(workspace: Path) -> None:
    workspace.mkdir()
    (workspace / "f").write_bytes(b"a" * (1 << 20))
    with (workspace / "big").open("wb") as file:
        file.truncate(MAX_EDIT_BYTES + 1)
    _, results = run_script(workspace, [
        call("edit", path="f", old_string="a", new_string="b" * 1000, replace_all=True),
        call("edit", path="big", old_string="\0", new_string="x", replace_all=True),
    ])  # fmt: skip
    grown, big = (str(output) for _, output in results)

    assert "would make 'f' 1,048,576,000 bytes, more than the 16 MiB edit may write" in grown
    assert "'big' is larger than the 16 MiB edit loads" in big
    assert (workspace / "f").read_bytes() == b"a" * (1 << 20)


def test_write_refuses_content_over_the_largest_file_of_the_run(workspace: Path) -> None:
    _, results = run_script(
        workspace,
        [call("write", path="big.txt", content="x" * (1024 * 1024 + 1)), call("write", path="ok.txt", content="x")],
        settings=Settings(sandbox_max_file_mib=1),
    )

    assert "larger than the 1 MiB a file of the run may have" in str(results[0][1])
    assert results[1][1] == "wrote 1 characters to ok.txt"
    assert not (workspace / "big.txt").exists()


def test_edit_refuses_a_result_the_workspace_has_no_room_for_before_making_it(workspace: Path) -> None:
    workspace.mkdir()
    (workspace / "f").write_bytes(b"a" * 1000)
    _, results = run_script(
        workspace,
        [
            call("edit", path="f", old_string="a", new_string="b" * 2000, replace_all=True),
            call("edit", path="f", old_string="a", new_string="b", replace_all=True),
        ],
        settings=Settings(sandbox_max_workspace_mib=1),
    )

    assert "would make 'f' 2,000,000 bytes, more than the workspace has room for" in str(results[0][1])
    assert results[1][1] == "replaced 1000 occurrence(s) in f"
    assert (workspace / "f").read_bytes() == b"b" * 1000
