"""Image queries, always scoped by ``user_id`` (every door passes the caller's user)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Image
from storage.types import utcnow

_SIGN = 1 << 63
_MASK = (1 << 64) - 1


def to_signed64(value: int) -> int:
    """An unsigned 64-bit hash as the signed BIGINT both SQLite and PostgreSQL can hold."""
    value &= _MASK
    return value - (1 << 64) if value & _SIGN else value


def to_unsigned64(value: int) -> int:
    return value & _MASK


def hash_hex(value: int) -> str:
    """A stored hash as 16 hex digits (the form the API shows)."""
    return f"{to_unsigned64(value):016x}"


@dataclass(frozen=True)
class ImageFilter:
    user_id: str
    captured_after: datetime | None = None
    captured_before: datetime | None = None
    image_type: str | None = None
    data_source: str | None = None
    format: str | None = None
    has_faces: bool | None = None
    original_image_id: str | None = None


def _filtered(stmt: Select[Any], flt: ImageFilter) -> Select[Any]:
    stmt = stmt.where(Image.user_id == flt.user_id)
    if flt.captured_after is not None:
        stmt = stmt.where(Image.captured_at >= flt.captured_after)
    if flt.captured_before is not None:
        stmt = stmt.where(Image.captured_at < flt.captured_before)
    if flt.image_type is not None:
        stmt = stmt.where(Image.image_type == flt.image_type)
    if flt.data_source is not None:
        stmt = stmt.where(Image.data_source == flt.data_source)
    if flt.format is not None:
        stmt = stmt.where(Image.format == flt.format)
    if flt.has_faces is not None:
        stmt = stmt.where(Image.face_count > 0 if flt.has_faces else Image.face_count == 0)
    if flt.original_image_id is not None:
        stmt = stmt.where(Image.original_image_id == flt.original_image_id)
    return stmt


async def list_images(session: AsyncSession, flt: ImageFilter, *, page: int, page_size: int) -> tuple[list[Image], int]:
    """One page in capture order (undated photos last, then by import time), and the total."""
    total = (await session.execute(_filtered(select(func.count()).select_from(Image), flt))).scalar_one()
    stmt = (
        _filtered(select(Image), flt)
        .order_by(Image.captured_at.is_(None), Image.captured_at, Image.created_at, Image.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    rows = list((await session.execute(stmt)).scalars())
    return rows, int(total)


async def get_image(session: AsyncSession, image_id: uuid.UUID) -> Image | None:
    return await session.get(Image, image_id, populate_existing=True)


async def get_by_original(session: AsyncSession, user_id: str, original_image_id: str) -> Image | None:
    stmt = select(Image).where(Image.user_id == user_id, Image.original_image_id == original_image_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def save_image(
    session: AsyncSession, user_id: str, original_image_id: str, values: dict[str, Any]
) -> tuple[Image, bool]:
    """Insert or update the user's image for ``original_image_id``; returns (row, created).

    Two imports of the same photo may race: the loser of the unique constraint updates instead.
    The caller commits.
    """
    now = utcnow()
    existing = await get_by_original(session, user_id, original_image_id)
    if existing is None:
        row = Image(
            id=values.pop("id", None) or uuid.uuid4(),
            user_id=user_id,
            original_image_id=original_image_id,
            created_at=now,
            updated_at=now,
            **values,
        )
        try:
            async with session.begin_nested():
                session.add(row)
            return row, True
        except IntegrityError:
            existing = await get_by_original(session, user_id, original_image_id)
            if existing is None:
                raise
    values.pop("id", None)
    for key, value in values.items():
        setattr(existing, key, value)
    existing.updated_at = now
    await session.flush()
    return existing, False


async def delete_image(session: AsyncSession, image_id: uuid.UUID) -> bool:
    row = await session.get(Image, image_id)
    if row is None:
        return False
    await session.delete(row)
    await session.flush()
    return True
