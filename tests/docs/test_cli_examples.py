"""The ```console blocks of docs/cli.md run in one bash session against a real server and worker, as documented."""

import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentruns.cli.config_file import read_config
from tests.support.databases import BACKENDS
from tests.support.markdown import DOCS, blocks, matches
from tests.support.workers import WorkerProcess

CLI = DOCS / "cli.md"
DOCS_URL = "http://127.0.0.1:2728"
DOCS_KEY = "local-dev-key"
MARK = "@@agentruns-docs-command-ended@@"
RICH_OVERRIDES = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR", "CLICOLOR_FORCE")


@dataclass(frozen=True)
class Command:
    """One `$ command` of a console block, the output the docs show after it, and its line in the file."""

    text: str
    expected: str
    line: int


def commands(path: Path) -> list[Command]:
    """The commands of every console block of a markdown file, in order."""
    found: list[Command] = []
    for block in blocks(path):
        if block.info != "console":
            continue
        for offset, line in enumerate(block.text.splitlines(), start=1):
            if line.startswith("$ "):
                found.append(Command(line[2:], "", block.line + offset))
            else:
                assert found, f"{path}:{block.line + offset}: output before the first command"
                last = found[-1]
                found[-1] = Command(last.text, f"{last.expected}{line}\n", last.line)
    return found


def _environment(config: Path) -> dict[str, str]:
    environment = {
        name: value for name, value in os.environ.items()
        if not name.startswith("AGENTRUNS_") and name not in RICH_OVERRIDES
    }  # fmt: skip
    return environment | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "AGENTRUNS_CONFIG": str(config),  # the machine's own config file stays out of it
        "COLUMNS": "100",
        "PYTHONUNBUFFERED": "1",  # stdout and stderr in the order they were written
    }


def test_the_cli_guide_has_a_session_to_run() -> None:
    assert len(commands(CLI)) >= 8


# The session tests the command line, which is the same on every database: the first backend under test will do.
@pytest.mark.parametrize("backend", BACKENDS[:1], indirect=True)
def test_console_examples(base_url: str, api_key: str, worker: WorkerProcess, tmp_path: Path) -> None:
    session = commands(CLI)
    config = tmp_path / "config.toml"
    config.write_text("")
    script = ["exec 2>&1"]  # errors are part of what the docs show
    for command in session:
        script += [
            command.text.replace(DOCS_URL, base_url).replace(DOCS_KEY, api_key),
            f'printf "\\n{MARK} %s\\n" "$?"',
        ]
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)], cwd=tmp_path, env=_environment(config), capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    ended = re.findall(rf"(.*?)\n{MARK} (\d+)\n", result.stdout, re.DOTALL)
    assert len(ended) == len(session), result.stdout + result.stderr
    for command, (printed, status) in zip(session, ended, strict=True):
        expected = command.expected.replace(DOCS_URL, base_url).replace(DOCS_KEY, api_key)
        context = f"{CLI}:{command.line}: $ {command.text}\nit printed:\n{printed}\nthe docs say:\n{expected}"
        assert status == "0", context + "".join(worker.output)
        assert matches(expected, printed), context


def test_the_config_file_example_is_one_the_command_line_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    [example] = [block for block in blocks(CLI) if block.info == "toml"]
    written = tmp_path / "config.toml"
    written.write_text(example.text)
    monkeypatch.setenv("AGENTRUNS_CONFIG", str(written))
    assert read_config(written) == tomllib.loads(example.text)
    assert set(read_config(written)) == {"url", "api_key"}
