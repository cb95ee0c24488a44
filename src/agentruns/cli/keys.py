"""`agentruns keys`: issue API keys."""

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from agentruns.settings import get_settings

if TYPE_CHECKING:  # the storage layer is imported when a key is issued, not by every `agentruns` command
    from agentruns.services.auth import IssuedKey

app = typer.Typer(help="API keys.", no_args_is_help=True)


async def _issue(database_url: str, org: str) -> "IssuedKey":
    from agentruns.services.auth import issue_key
    from agentruns.storage.database import Database

    db = Database(database_url)
    try:
        return await issue_key(db, org)
    finally:
        await db.dispose()


@app.command()
def create(
    org: Annotated[str, typer.Option("--org", help="The organization's name; created if new.")],
    json: Annotated[bool, typer.Option("--json", help="Print a JSON object instead of the bare key.")] = False,
) -> None:
    """Create a key for an organization and print it; only its hash is stored, so keep it now."""
    if not org.strip():
        Console(stderr=True).print("[red]error:[/red] --org must not be empty")
        raise typer.Exit(2)
    from agentruns.storage import migrate

    url = get_settings().database_url
    migrate.upgrade(url)
    issued = asyncio.run(_issue(url, org.strip()))
    if json:
        typer.echo(
            f'{{"key": "{issued.key}", "keyId": "{issued.key_id}", "orgId": "{issued.org_id}", '
            f'"orgName": {_json_string(issued.org_name)}}}'
        )
    else:
        typer.echo(issued.key)


def _json_string(value: str) -> str:
    import json

    return json.dumps(value)
