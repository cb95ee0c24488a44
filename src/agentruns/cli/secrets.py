"""`agentruns secrets`: make a key for stored secrets, and encrypt every stored secret again under the first key."""

import asyncio
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from agentruns.settings import Settings, get_settings

if TYPE_CHECKING:  # the storage layer is imported when a command needs it, not by every `agentruns` command
    from agentruns.storage.secret_box import SecretBox

app = typer.Typer(help="The key that encrypts stored secrets (webhook signing secrets).", no_args_is_help=True)

MISCONFIGURED = 2
"""The exit status when the secrets key is missing, malformed, or not the one the stored secrets need."""


def secret_box_or_exit(settings: Settings) -> "SecretBox":
    """The configured key box; exit with status 2 and the setting to fix when there is none or it is malformed."""
    from agentruns.storage.secret_box import SecretsKeyError
    from agentruns.storage.secrets_key import secret_box

    try:
        return secret_box(settings)
    except SecretsKeyError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(MISCONFIGURED) from None


@app.command("new-key")
def new_key() -> None:
    """Print a new random key for AGENTRUNS_SECRETS_KEY (or a key file); nothing is stored."""
    from agentruns.storage.secret_box import new_key as make_key

    typer.echo(make_key())


async def _reseal(database_url: str, box: "SecretBox") -> int:
    from agentruns.storage.database import Database
    from agentruns.storage.queries.webhooks import reseal_all

    db = Database(database_url)
    try:
        async with db.write() as session:
            return await reseal_all(session, box)
    finally:
        await db.dispose()


@app.command()
def rotate() -> None:
    """Encrypt every stored secret again under the first configured key (after a new key was put first).

    Any configured key may have encrypted a secret; once this is done, the keys after the first can be removed.
    """
    from agentruns.storage import migrate
    from agentruns.storage.secret_box import UndecryptableSecret

    settings = get_settings()
    box = secret_box_or_exit(settings)
    migrate.upgrade(settings.database_url, secrets=box)
    try:
        count = asyncio.run(_reseal(settings.database_url, box))
    except UndecryptableSecret as exc:
        Console(stderr=True).print(f"[red]error:[/red] nothing was changed: {escape(str(exc))}")
        raise typer.Exit(MISCONFIGURED) from None
    Console().print(f"{count} stored secret(s) are encrypted under the first key")
