"""Organizations and API keys: issue a key, and find the organization a presented key belongs to."""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from agentruns import clock
from agentruns.errors import Unauthorized
from agentruns.ids import new_id
from agentruns.settings import Settings
from agentruns.storage.database import Database
from agentruns.storage.models import ApiKey
from agentruns.storage.queries import organizations

KEY_PREFIX = "ar_"


def hash_key(key: str) -> str:
    """The stored form of a key. Keys carry 256 random bits, so a plain SHA-256 cannot be reversed."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key as issued: the only time its plain text is known."""

    key: str
    key_id: str
    org_id: str
    org_name: str


async def issue_key(db: Database, org_name: str) -> IssuedKey:
    """Create a key for the organization `org_name`, creating the organization on first use."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    async with db.write() as session:
        organization = await organizations.ensure(session, new_id("org"), org_name, clock.now())
        row = ApiKey(
            id=new_id("key"),
            org_id=organization.id,
            key_hash=hash_key(key),
            prefix=key[:8],
            created_at=clock.now(),
        )
        organizations.add_key(session, row)
    return IssuedKey(key=key, key_id=row.id, org_id=organization.id, org_name=organization.name)


class KeyCache:
    """Keys seen valid in the last `seconds` skip the database; a revoked key is refused at most that long
    after its revocation (`AGENTRUNS_KEY_CACHE_SECONDS`; 0 caches nothing). One cache per application, so per API
    process: each process's bound runs from its own last look-up, none longer than `seconds`."""

    def __init__(self, seconds: float = 30.0, size: int = 10_000) -> None:
        self.seconds = seconds
        self.size = size
        self._valid: dict[str, tuple[str, float]] = {}

    def get(self, digest: str) -> str | None:
        """The organization of a key seen valid recently."""
        entry = self._valid.get(digest)
        return entry[0] if entry is not None and entry[1] > time.monotonic() else None

    def put(self, digest: str, org_id: str) -> None:
        """Remember a valid key."""
        if self.seconds <= 0:
            return
        if len(self._valid) >= self.size:
            self._valid.clear()
        self._valid[digest] = (org_id, time.monotonic() + self.seconds)


async def organization_of_key(db: Database, settings: Settings, key: str, cache: KeyCache | None = None) -> str:
    """The id of the organization `key` belongs to; `Unauthorized` if it is no valid key."""
    digest = hash_key(key)
    if cache is not None and (org_id := cache.get(digest)) is not None:
        return org_id
    org_id = await _look_up(db, settings, key, digest)
    if cache is not None:
        cache.put(digest, org_id)
    return org_id


async def _look_up(db: Database, settings: Settings, key: str, digest: str) -> str:
    configured = settings.api_key.get_secret_value() if settings.api_key else None
    if configured and hmac.compare_digest(key.encode(), configured.encode()):
        async with db.read() as session:
            existing = await organizations.get_by_name(session, settings.default_org_name)
        if existing is not None:
            return existing.id
        async with db.write() as session:
            created = await organizations.ensure(session, new_id("org"), settings.default_org_name, clock.now())
        return created.id
    async with db.read() as session:
        org_id = await organizations.org_id_for_key_hash(session, digest)
    if org_id is None:
        raise Unauthorized("the API key is not valid")
    return org_id
