"""Everything a copy of a database holds, as bytes: a SQLite file with its `-wal` and `-shm`, or a `pg_dump`."""

import subprocess
from pathlib import Path

from agentruns.storage.database import DatabaseKind, parse_database_url


def raw_database(database_url: str) -> bytes:
    """The bytes someone who copied the database would have (read while its processes run)."""
    kind, parsed = parse_database_url(database_url)
    if kind is DatabaseKind.SQLITE:
        assert parsed.database
        main = Path(parsed.database)
        parts = [main, *(main.with_name(main.name + suffix) for suffix in ("-wal", "-shm", "-journal"))]
        return b"".join(part.read_bytes() for part in parts if part.exists())
    dumped = subprocess.run(
        ["pg_dump", "--no-owner", parsed.render_as_string(hide_password=False)],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return dumped.stdout


def forms_of(secret: str) -> list[bytes]:
    """A `whsec_` secret as its text, its base64 part and its decoded bytes: none may be in a copy of the database."""
    import base64

    encoded = secret.removeprefix("whsec_")
    decoded = base64.b64decode(encoded)
    return [secret.encode(), encoded.encode(), decoded, decoded.hex().encode()]
