"""Saving an imported photo on real SQLite and PostgreSQL: one INSERT when new, an update when not."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from server.runtime import Runtime
from storage import images as store
from tests.conftest import make_settings
from tests.support.services import create_database, drop_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Runtime]:
    url = await create_database() if request.param == "postgres" else None
    rt = Runtime(make_settings(tmp_path, database_url=url))
    await rt.open()
    yield rt
    await rt.close()
    if url:
        await drop_database(url)


def _photo(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "image_type": "Original",
        "meta": {"album": "holiday"},
        "sha256": "a" * 64,
        "byte_size": 1234,
        "format": "JPEG",
        "width": 640,
        "height": 480,
        "aspect": 1.33333,
        "phash": 1,
        "dhash": -2,
        "phash_mirror": 3,
        "dhash_mirror": 4,
        "descriptor": bytes(176),
        "sharpness": 0.5,
        "quality_score": 0.7,
        "analysis_version": 3,
    }
    return values | overrides


async def test_new_photo_is_inserted_then_updated_in_place(runtime: Runtime) -> None:
    image_id = uuid.uuid4()
    async with runtime.sessions() as session:
        row, created = await store.save_image(session, "u1", "IMG_1.jpg", _photo(id=image_id))
        await session.commit()
    assert created and row.id == image_id
    async with runtime.sessions() as session:
        state = await store.import_state(session, "u1", "IMG_1.jpg")
    assert state is not None and state.id == image_id and state.meta == {"album": "holiday"}
    assert state.sha256 == "a" * 64 and state.image_type == "Original"

    async with runtime.sessions() as session:  # new bytes for the same photo: the same record, updated
        row, created = await store.save_image(session, "u1", "IMG_1.jpg", _photo(id=uuid.uuid4(), sha256="b" * 64))
        await session.commit()
    assert not created and row.id == image_id
    async with runtime.sessions() as session:
        state = await store.import_state(session, "u1", "IMG_1.jpg")
        other_user = await store.import_state(session, "u2", "IMG_1.jpg")
    assert state.sha256 == "b" * 64 and other_user is None
