"""Queries on organizations and their API keys."""

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentruns.storage.models import ApiKey, Organization
from agentruns.storage.queries.inserts import insert_once


async def get_by_name(session: AsyncSession, name: str) -> Organization | None:
    """The organization with this name."""
    return await session.scalar(select(Organization).where(Organization.name == name))


async def org_id_for_key_hash(session: AsyncSession, key_hash: str) -> str | None:
    """The organization of an unrevoked key, found by the key's hash."""
    return await session.scalar(select(ApiKey.org_id).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)))


async def ensure(session: AsyncSession, org_id: str, name: str, created_at: datetime) -> Organization:
    """The organization with this name, created with `org_id` if there is none (safe under races)."""
    await insert_once(session, Organization, [{"id": org_id, "name": name, "created_at": created_at}])
    organization = await get_by_name(session, name)
    assert organization is not None
    return organization


def add_key(session: AsyncSession, key: ApiKey) -> None:
    """Store a new key."""
    session.add(key)


async def keys(session: AsyncSession, org_name: str | None = None) -> list[tuple[ApiKey, str]]:
    """Every key (of the organization `org_name` only, if given) with its organization's name, oldest first."""
    query = select(ApiKey, Organization.name).join(Organization, Organization.id == ApiKey.org_id)
    if org_name is not None:
        query = query.where(Organization.name == org_name)
    rows = await session.execute(query.order_by(ApiKey.created_at, ApiKey.id))
    return [(key, name) for key, name in rows]


async def revoke_key(session: AsyncSession, key_id: str, now: datetime) -> ApiKey | None:
    """Mark the key revoked (once: a revoked key keeps its first revocation time); None if there is no such key."""
    await session.execute(update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None)).values(revoked_at=now))
    return await session.scalar(select(ApiKey).where(ApiKey.id == key_id).execution_options(populate_existing=True))
