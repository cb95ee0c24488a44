"""The server and key of the client commands: flags, then the environment, then the config file."""

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from agentruns.cli import app
from agentruns.cli.config_file import CONFIG_VARIABLE, config_path
from tests.cli.conftest import json_of
from tests.support.servers import free_port

URL, KEY = "AGENTRUNS_URL", "AGENTRUNS_API_KEY"


def _invoke(*args: str, **env: str) -> Result:
    # None removes a variable for the command: only what the test gives counts.
    environment: dict[str, str | None] = {URL: None, KEY: None, CONFIG_VARIABLE: None, "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=environment | env)


def _config(directory: Path, text: str) -> str:
    path = directory / "config.toml"
    path.write_text(text)
    return str(path)


def test_the_config_file_gives_the_server_and_the_key(base_url: str, api_key: str, tmp_path: Path) -> None:
    config = _config(tmp_path, f'# agentruns\nurl = "{base_url}"\napi_key = "{api_key}"\n')
    assert json_of(_invoke("agents", "list", "--json", AGENTRUNS_CONFIG=config))["agents"] == []


def test_flags_beat_the_environment_which_beats_the_file(base_url: str, api_key: str, tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    config = _config(tmp_path, f'url = "{nowhere}"\napi_key = "wrong"\n')
    from_the_environment = _invoke("agents", "list", AGENTRUNS_CONFIG=config, AGENTRUNS_URL=base_url,
                                   AGENTRUNS_API_KEY=api_key)  # fmt: skip
    assert from_the_environment.exit_code == 0, from_the_environment.output
    from_the_flags = _invoke("agents", "list", "--url", base_url, "--api-key", api_key, AGENTRUNS_CONFIG=config,
                             AGENTRUNS_URL=nowhere, AGENTRUNS_API_KEY="also-wrong")  # fmt: skip
    assert from_the_flags.exit_code == 0, from_the_flags.output
    key_from_the_file = _invoke("agents", "list", AGENTRUNS_CONFIG=config, AGENTRUNS_URL=base_url)
    assert key_from_the_file.exit_code == 1
    assert "AUTHORIZATION_ERROR (401)" in key_from_the_file.stderr
    url_from_the_file = _invoke("agents", "list", AGENTRUNS_CONFIG=config, AGENTRUNS_API_KEY=api_key)
    assert url_from_the_file.exit_code == 1
    assert f"cannot reach agentruns at {nowhere} (from {config})" in url_from_the_file.stderr


def test_the_file_is_not_read_when_flags_and_the_environment_say_everything(
    base_url: str, api_key: str, tmp_path: Path
) -> None:
    broken = _config(tmp_path, "url = ")
    result = _invoke("agents", "list", AGENTRUNS_CONFIG=broken, AGENTRUNS_URL=base_url, AGENTRUNS_API_KEY=api_key)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("url = ", "is not valid TOML"),
        ('token = "ar_x"', "unknown setting 'token' (known: url, api_key)"),
        ("url = 2728", "url must be a non-empty string"),
        ('api_key = " "', "api_key must be a non-empty string"),
    ],
)
def test_a_broken_config_file_stops_the_command_with_status_2(text: str, said: str, tmp_path: Path) -> None:
    config = _config(tmp_path, text)
    result = _invoke("runs", "list", AGENTRUNS_CONFIG=config)
    assert result.exit_code == 2
    assert config in result.stderr and said in result.stderr


def test_a_config_file_that_agentruns_config_names_must_exist(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere.toml")
    result = _invoke("agents", "list", AGENTRUNS_CONFIG=missing)
    assert result.exit_code == 2
    assert f"{missing} (named by AGENTRUNS_CONFIG) does not exist" in result.stderr


def test_by_default_the_file_is_in_the_users_config_directory(tmp_path: Path) -> None:
    result = _invoke("agents", "list", XDG_CONFIG_HOME=str(tmp_path))
    assert result.exit_code == 2  # no file there: no key anywhere
    expected = tmp_path / "agentruns" / "config.toml"
    assert f"pass --api-key, set AGENTRUNS_API_KEY or put api_key in {expected}" in result.stderr


def test_the_default_file_is_read(base_url: str, api_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_VARIABLE, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    config_path().parent.mkdir()
    config_path().write_text(f'url = "{base_url}"\napi_key = "{api_key}"\n')
    result = _invoke("runs", "list", "--json", XDG_CONFIG_HOME=str(tmp_path))
    assert json_of(result)["runs"] == []
