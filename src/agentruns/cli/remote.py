"""What the commands that talk to a server share: the --url, --api-key and --json options, the client, errors."""

import json
from collections.abc import Generator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape

from agentruns.cli.config_file import ConfigFileError, resolve
from agentruns.client import (
    AgentrunsError,
    APIConnectionError,
    APIError,
    Client,
    NotServedError,
)
from agentruns.client.config import DEFAULT_BASE_URL, KEY_VARIABLE, URL_VARIABLE

Url = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar=URL_VARIABLE,
        help=f"The agentruns server (default: url in the config file, else {DEFAULT_BASE_URL}).",
        show_envvar=True,
        show_default=False,
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar=KEY_VARIABLE,
        help="Your API key (default: api_key in the config file).",
        show_envvar=True,
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON (the API's own format), for scripts.")]

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `error: message` on stderr and exit."""
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


def describe(error: APIError) -> str:
    """An API error as one line, with the fields it names."""
    if isinstance(error, NotServedError):
        return f"this server does not serve that yet ({error.status} {error.code}): {error.message}"
    fields = "; ".join(f"{detail.field}: {detail.message}" for detail in error.details)
    message = error.message if not fields or fields in error.message else f"{error.message} ({fields})"
    return f"{error.code} ({error.status}): {message}"


@contextmanager
def connect(url: str | None, api_key: str | None) -> Generator[Client]:
    """A client of the server (from the flags, the environment or the config file); any failure of the block is
    printed as one line and exits with status 1 (2 for a missing key or a broken config file)."""
    try:
        target = resolve(url, api_key)
    except ConfigFileError as exc:
        fail(str(exc), code=2)
    if not target.api_key:
        fail(target.missing_key(), code=2)
    try:
        with Client(target.url, target.api_key) as client:
            yield client
    except APIError as exc:
        fail(describe(exc))
    except APIConnectionError:
        origin = f" (from {target.url_from})" if target.url_from else ""
        fail(
            f"cannot reach agentruns at {target.url}{origin}: is it running (agentruns serve)? "
            f"Else pass --url, set {URL_VARIABLE} or put url in {target.config}"
        )
    except AgentrunsError as exc:
        fail(str(exc))


def print_json(value: BaseModel | list[BaseModel] | dict[str, Any]) -> None:
    """Print a model (by its wire names), a list of them, or a plain object, as indented JSON."""
    if isinstance(value, BaseModel):
        plain: Any = value.model_dump(mode="json", by_alias=True)
    elif isinstance(value, list):
        plain = [item.model_dump(mode="json", by_alias=True) for item in value]
    else:
        plain = value
    typer.echo(json.dumps(plain, indent=2, ensure_ascii=False))
