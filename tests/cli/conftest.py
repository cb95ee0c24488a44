"""Fixtures for the commands that talk to a server: a runner with the server's URL and a fresh key."""

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from agentruns.cli import app

Invoke = Callable[..., Result]


@pytest.fixture
def agentruns(base_url: str, api_key: str) -> Invoke:
    """Run `agentruns ARGS…` in-process against the test server, the URL and key in the environment."""

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        environment = {
            "AGENTRUNS_URL": base_url,
            "AGENTRUNS_API_KEY": api_key,
            "AGENTRUNS_CONFIG": os.devnull,  # an empty config file: the machine's own stays out of the tests
            "COLUMNS": "200",
        } | (env or {})
        return CliRunner().invoke(app, list(args), env=environment)

    return invoke


def json_of(result: Result) -> Any:
    """The JSON a command printed, after checking that it succeeded."""
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
