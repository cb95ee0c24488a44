"""The command line's config file: the server and key to use when neither a flag nor the environment names them."""

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import typer

from agentruns.client.config import DEFAULT_BASE_URL, KEY_VARIABLE, URL_VARIABLE

CONFIG_VARIABLE = "AGENTRUNS_CONFIG"
SETTINGS = ("url", "api_key")


class ConfigFileError(Exception):
    """The config file cannot be read, or holds something the command line does not know."""


def config_path() -> Path:
    """`AGENTRUNS_CONFIG`, else `config.toml` in the user's config directory (`~/.config/agentruns` on Linux)."""
    named = os.environ.get(CONFIG_VARIABLE)
    if named:
        return Path(named).expanduser()
    return Path(typer.get_app_dir("agentruns")) / "config.toml"


def read_config(path: Path) -> dict[str, str]:
    """The settings in the file; none if there is no file (unless `AGENTRUNS_CONFIG` names it).

    Raises:
        ConfigFileError: The file cannot be read, is not TOML, or holds an unknown or empty setting.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if os.environ.get(CONFIG_VARIABLE):
            raise ConfigFileError(f"{path} (named by {CONFIG_VARIABLE}) does not exist") from None
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"cannot read {path}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{path} is not valid TOML: {exc}") from None
    settings: dict[str, str] = {}
    for name, value in data.items():
        if name not in SETTINGS:
            raise ConfigFileError(f"{path}: unknown setting {name!r} (known: {', '.join(SETTINGS)})")
        if not isinstance(value, str) or not value.strip():
            raise ConfigFileError(f"{path}: {name} must be a non-empty string")
        settings[name] = value.strip()
    return settings


@dataclass(frozen=True)
class Target:
    """The server and key a command uses; `url_from` says where the URL came from (None: the default)."""

    url: str
    api_key: str | None
    url_from: str | None
    config: Path

    def missing_key(self) -> str:
        """What to do when there is no key."""
        return f"no API key: pass --api-key, set {KEY_VARIABLE} or put api_key in {self.config}"


def resolve(url: str | None, api_key: str | None) -> Target:
    """The server and key: `url` and `api_key` (a flag, else the environment, as Typer gave them), else the file.

    The file is read only when a flag or the environment leaves something unset.

    Raises:
        ConfigFileError: The file was needed and is broken.
    """
    url, api_key = url or None, api_key or None
    path = config_path()
    settings = read_config(path) if url is None or api_key is None else {}
    if url is not None:
        url_from: str | None = f"--url or {URL_VARIABLE}"
    elif "url" in settings:
        url, url_from = settings["url"], str(path)
    else:
        url, url_from = DEFAULT_BASE_URL, None
    return Target(url=url, api_key=api_key or settings.get("api_key"), url_from=url_from, config=path)
