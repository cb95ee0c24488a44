"""API key administration for `agentruns keys`: list the keys, revoke one."""

from dataclasses import dataclass
from datetime import datetime

from agentruns import clock
from agentruns.errors import NotFound
from agentruns.storage.database import Database
from agentruns.storage.queries import organizations


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What is known of a key once issued: never the key itself, only its first characters."""

    key_id: str
    org_id: str
    org_name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


async def list_keys(db: Database, org_name: str | None = None) -> list[KeyInfo]:
    """Every key, or those of the organization `org_name`, oldest first."""
    async with db.read() as session:
        rows = await organizations.keys(session, org_name)
    return [KeyInfo(key.id, key.org_id, name, key.prefix, key.created_at, key.revoked_at) for key, name in rows]


async def revoke_key(db: Database, key_id: str) -> datetime:
    """Revoke the key; when it was revoked (the first time, for a key revoked before). `NotFound` if none has that id.

    API processes stop accepting it within `AGENTRUNS_KEY_CACHE_SECONDS` (`auth.KeyCache`).
    """
    async with db.write() as session:
        key = await organizations.revoke_key(session, key_id, clock.now())
    if key is None or key.revoked_at is None:
        raise NotFound(f"there is no API key {key_id!r}")
    return key.revoked_at
