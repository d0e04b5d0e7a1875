"""API keys: random tokens, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ApiKey
from storage.types import utcnow

KEY_PREFIX = "aib_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    key: str
    record: ApiKey


async def create_key(session: AsyncSession, *, user_id: str | None, is_admin: bool, name: str | None = None) -> NewKey:
    """Create a key; the plain token is returned once and never stored."""
    if not is_admin and not user_id:
        raise ValueError("a user key needs a user_id")
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(
        key_hash=hash_key(token), prefix=token[:12], name=name, user_id=user_id, is_admin=is_admin, created_at=utcnow()
    )
    session.add(record)
    await session.flush()
    return NewKey(token, record)


async def find_key(session: AsyncSession, token: str) -> ApiKey | None:
    record = await session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(token)))
    if record is None or record.revoked_at is not None:
        return None
    return record


async def count_active_keys(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).where(ApiKey.revoked_at.is_(None))) or 0)


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    return list((await session.scalars(select(ApiKey).order_by(ApiKey.created_at))).all())


async def revoke_key(session: AsyncSession, prefix: str) -> int:
    """Revoke every active key whose displayed prefix starts with ``prefix``; returns how many."""
    rows = (
        await session.scalars(select(ApiKey).where(ApiKey.prefix.startswith(prefix), ApiKey.revoked_at.is_(None)))
    ).all()
    for row in rows:
        row.revoked_at = utcnow()
    return len(rows)
