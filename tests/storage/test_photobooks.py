from __future__ import annotations

import uuid

from sqlalchemy import func, select

from server.runtime import Runtime
from storage.models import Photobook
from storage.photobooks import get_photobook, images_by_ids, save_photobook


def _values(book_id: uuid.UUID, title: str) -> dict[str, object]:
    return {
        "id": book_id,
        "user_id": "ann",
        "title": title,
        "format": "square-20",
        "style": "calm",
        "language": "en",
        "page_count": 12,
        "params": {"user_id": "ann"},
        "book": {"title": title},
        "page_keys": ["a.png"],
        "preview_key": "b.pdf",
    }


async def test_saving_a_book_twice_keeps_one_row(runtime: Runtime) -> None:
    book_id = uuid.uuid4()
    async with runtime.sessions() as session:
        await save_photobook(session, _values(book_id, "first"))
        await session.commit()
    async with runtime.sessions() as session:
        await save_photobook(session, _values(book_id, "second"))
        await session.commit()
    async with runtime.sessions() as session:
        row = await get_photobook(session, book_id)
        count = (await session.execute(select(func.count()).select_from(Photobook))).scalar_one()
        assert row is not None and row.title == "second" and row.book == {"title": "second"} and count == 1
        assert await images_by_ids(session, "ann", [uuid.uuid4()]) == []
