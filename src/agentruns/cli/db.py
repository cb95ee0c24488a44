"""`agentruns db`: database maintenance."""

import typer
from rich.console import Console

from agentruns.settings import get_settings

app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@app.command()
def upgrade() -> None:
    """Apply every pending migration to AGENTRUNS_DATABASE_URL."""
    # Imported here so that the other `agentruns` commands do not pay for the storage layer.
    from agentruns.storage import migrate
    from agentruns.storage.database import DatabaseUrlError
    from agentruns.storage.secret_box import SecretsKeyError

    url = get_settings().database_url
    try:
        migrate.upgrade(url)
    except (DatabaseUrlError, SecretsKeyError) as exc:  # a key is needed where stored secrets must be encrypted
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    Console().print(f"database at revision {migrate.current_revision(url)}")
