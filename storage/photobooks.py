"""Photobook queries; reads check the owner (every door passes the caller's user)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Image, Photobook
from storage.types import utcnow


async def save_photobook(session: AsyncSession, values: dict[str, Any]) -> Photobook:
    """Insert a book, or replace the one with this id (a job run twice makes one book); the caller commits."""
    now = utcnow()
    book_id = values.pop("id", None) or uuid.uuid4()
    row = await session.get(Photobook, book_id)
    if row is None:
        row = Photobook(id=book_id, created_at=now, updated_at=now, **values)
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = now
    await session.flush()
    return row


async def get_photobook(session: AsyncSession, photobook_id: uuid.UUID) -> Photobook | None:
    return await session.get(Photobook, photobook_id, populate_existing=True)


async def images_by_ids(session: AsyncSession, user_id: str, ids: list[uuid.UUID]) -> list[Image]:
    """The user's images among ``ids`` (others' images are simply not found)."""
    found: list[Image] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stmt = select(Image).where(Image.user_id == user_id, Image.id.in_(chunk))
        found.extend((await session.execute(stmt)).scalars())
    return found
