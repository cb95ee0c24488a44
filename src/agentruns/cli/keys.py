"""`agentruns keys`: issue, list and revoke API keys."""

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from agentruns.settings import get_settings

if TYPE_CHECKING:  # the storage layer is imported when a key is issued, not by every `agentruns` command
    from datetime import datetime

    from agentruns.services.api_keys import KeyInfo
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


async def _list(database_url: str, org: str | None) -> "list[KeyInfo]":
    from agentruns.services.api_keys import list_keys
    from agentruns.storage.database import Database

    db = Database(database_url)
    try:
        return await list_keys(db, org)
    finally:
        await db.dispose()


@app.command("list")
def list_(
    org: Annotated[str | None, typer.Option("--org", help="Only this organization's keys.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List the keys: id, organization, first characters, when created and revoked (the keys themselves are not
    stored)."""
    from agentruns.storage import migrate

    url = get_settings().database_url
    migrate.upgrade(url)
    listed = asyncio.run(_list(url, org))
    if json:
        import json as json_module

        typer.echo(json_module.dumps([
            {"keyId": key.key_id, "orgId": key.org_id, "orgName": key.org_name, "prefix": key.prefix,
             "createdAt": key.created_at.isoformat(), "revokedAt": key.revoked_at and key.revoked_at.isoformat()}
            for key in listed
        ]))  # fmt: skip
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("id", "prefix", "created", "revoked"):
        table.add_column(column, no_wrap=True)
    table.add_column("organization", overflow="ellipsis", no_wrap=True)
    for key in listed:
        revoked = _minute(key.revoked_at) if key.revoked_at else "-"
        table.add_row(key.key_id, key.prefix + "…", _minute(key.created_at), revoked, key.org_name)
    Console().print(table)


def _minute(at: "datetime") -> str:
    return at.strftime("%Y-%m-%d %H:%M")


async def _revoke(database_url: str, key_id: str) -> None:
    from agentruns.services.api_keys import revoke_key
    from agentruns.storage.database import Database

    db = Database(database_url)
    try:
        await revoke_key(db, key_id)
    finally:
        await db.dispose()


@app.command()
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (`key_…`, as `agentruns keys list` shows).")],
) -> None:
    """Revoke a key: every API process refuses it (401) within AGENTRUNS_KEY_CACHE_SECONDS."""
    from agentruns.errors import NotFound
    from agentruns.storage import migrate

    settings = get_settings()
    migrate.upgrade(settings.database_url)
    try:
        asyncio.run(_revoke(settings.database_url, key_id))
    except NotFound as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    Console().print(
        f"revoked {key_id}: every API process refuses it within {settings.key_cache_seconds:g} s "
        "(AGENTRUNS_KEY_CACHE_SECONDS)"
    )
