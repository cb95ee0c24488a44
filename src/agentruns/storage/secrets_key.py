"""Find the key that encrypts stored secrets: `AGENTRUNS_SECRETS_KEY`, its file, or on SQLite the data directory's.

On SQLite (one machine, the embedded default) a key is generated on first start into `secrets.key` beside the
database file. On PostgreSQL the processes of a deployment run on many machines and must share one key, so a
missing key is an error: a key generated on each machine would make each one unable to read the others' secrets.
"""

import contextlib
import logging
import os
import secrets
import sqlite3
from pathlib import Path

from agentruns.settings import Settings
from agentruns.storage.database import DatabaseKind, parse_database_url
from agentruns.storage.secret_box import SecretBox, SecretsKeyError, new_key, parse_keys

KEY_FILE_NAME = "secrets.key"

log = logging.getLogger("agentruns.secrets")

MISSING_ON_POSTGRESQL = (
    "AGENTRUNS_SECRETS_KEY (or AGENTRUNS_SECRETS_KEY_FILE) must be set when the database is PostgreSQL: every "
    "process of the deployment needs the same key, which encrypts the secrets stored in the database. Make one "
    "with `agentruns secrets new-key` and keep it apart from the database's backups."
)


def secret_box(settings: Settings, database_url: str | None = None) -> SecretBox:
    """The box of the configured keys for the database at `database_url` (the settings' by default);
    `SecretsKeyError` naming the setting if there is none or it is malformed."""
    url = database_url or settings.database_url
    if settings.secrets_key is not None:
        return SecretBox(parse_keys(settings.secrets_key.get_secret_value(), source="AGENTRUNS_SECRETS_KEY"))
    if settings.secrets_key_file is not None:
        path = Path(settings.secrets_key_file).expanduser()
        return SecretBox(parse_keys(_read(path, "AGENTRUNS_SECRETS_KEY_FILE"), source=f"the key file {path}"))
    kind, _ = parse_database_url(url)
    if kind is DatabaseKind.POSTGRESQL:
        raise SecretsKeyError(MISSING_ON_POSTGRESQL)
    path = data_directory_key_file(url)
    if not path.exists() and holds_sealed_secrets(url):
        raise SecretsKeyError(
            f"the secrets key file {path} is missing, yet the database holds secrets encrypted with a key: restore the "
            "file from its backup (or set AGENTRUNS_SECRETS_KEY to the key); a new key could not read them"
        )
    try:
        text = read_or_create_key_file(path)
    except OSError as exc:
        raise SecretsKeyError(f"the secrets key file {path} cannot be read or made: {exc.strerror}") from None
    return SecretBox(parse_keys(text, source=f"the key file {path}"))


def holds_sealed_secrets(database_url: str) -> bool:
    """Whether the SQLite database (if its file exists) holds secrets sealed by some key (migration 0011 on)."""
    _, parsed = parse_database_url(database_url)
    assert parsed.database
    database = Path(parsed.database).expanduser()
    if not database.exists():
        return False
    with contextlib.closing(sqlite3.connect(f"{database.absolute().as_uri()}?mode=ro", uri=True)) as connection:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(webhook_secrets)")}
        if "sealed_secret" not in columns:
            return False
        return connection.execute("SELECT EXISTS (SELECT 1 FROM webhook_secrets)").fetchone() == (1,)


def data_directory_key_file(database_url: str) -> Path:
    """Where the key of a SQLite database lives when no setting names one: beside the database file."""
    _, parsed = parse_database_url(database_url)
    assert parsed.database
    return Path(parsed.database).expanduser().absolute().parent / KEY_FILE_NAME


def read_or_create_key_file(path: Path) -> str:
    """The key file's text; on first start a new key is written to it first, readable by its owner alone.

    Two processes starting together agree on one key: each writes a whole draft (opened with `O_EXCL`, mode
    0600) and links it to `path`; a link fails if `path` exists, as `O_EXCL` would, so the first one wins and
    the others read its key. No process can see the file before its key is written.
    """
    try:
        return _read_private(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(new_key() + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(draft, path)
            log.warning("generated the secrets key %s: back it up apart from the database", path)
        except FileExistsError:
            pass  # another process was first: its key is the one
    finally:
        draft.unlink(missing_ok=True)
    _sync_directory(path.parent)
    return _read_private(path)


def _read_private(path: Path) -> str:
    text = path.read_text()
    if path.stat().st_mode & 0o077:
        log.warning("the secrets key file %s can be read by other users than its owner: chmod 600 it", path)
    return text


def _read(path: Path, setting: str) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise SecretsKeyError(f"{setting} names {path}, which cannot be read: {exc.strerror}") from None


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
