"""Generation queries on SQLite and PostgreSQL: one selection per entity (also under concurrent selects),
the prompt-cache lookup, and settling a generation from its stopped job."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import generations as q
from storage.database import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import Image, Job
from storage.types import utcnow
from tests.support.services import create_database, drop_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}" if request.param == "sqlite" else await create_database()
    engine = create_engine(url)
    await upgrade(engine)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()
        if request.param == "postgres":
            await drop_database(url)


async def image(session: AsyncSession, user_id: str) -> uuid.UUID:
    row = Image(
        id=uuid.uuid4(),
        user_id=user_id,
        original_image_id=f"generated:{uuid.uuid4()}",
        sha256="0" * 64,
        byte_size=10,
        format="png",
        width=8,
        height=8,
        aspect=1.0,
        phash=0,
        dhash=0,
        phash_mirror=0,
        dhash_mirror=0,
        descriptor=b"",
        sharpness=0.0,
        quality_score=0.0,
    )
    session.add(row)
    await session.flush()
    return row.id


async def generation(
    sessions: async_sessionmaker[AsyncSession], *, images: int = 1, **values: Any
) -> tuple[Any, list[Any]]:
    fields = {"user_id": "alice", "prompt": "p", "params": {}, "provider": "openai", "cache_key": "k"} | values
    async with sessions() as session:
        row = await q.create_generation(session, **fields)
        preds = [
            {"index": n, "image_id": await image(session, row.user_id), "status": "succeeded"} for n in range(images)
        ]
        created = await q.replace_predictions(session, row.id, preds)
        await session.commit()
    return row, created


async def selected(sessions: async_sessionmaker[AsyncSession], ids: list[uuid.UUID]) -> list[uuid.UUID]:
    async with sessions() as session:
        found = await q.predictions_of(session, ids)
    return [p.id for group in found.values() for p in group if p.selected]


async def test_one_selection_per_entity(sessions: async_sessionmaker[AsyncSession]) -> None:
    slot = {"entity_type": "photobook_slot", "entity_id": "b1/p1/s1", "status": "completed"}
    one, (a, b) = await generation(sessions, images=2, **slot)
    two, (c,) = await generation(sessions, **slot)
    other, (d,) = await generation(sessions, status="completed", entity_type="cover", entity_id="b1")
    for gen, pred in ((one, a), (one, b), (two, c), (other, d)):
        async with sessions() as session:
            await q.select_prediction(session, gen, pred)
            await session.commit()
    assert await selected(sessions, [one.id, two.id]) == [c.id]
    assert await selected(sessions, [other.id]) == [d.id]

    async def select(gen: Any, pred: Any) -> None:
        async with sessions() as session:
            await q.select_prediction(session, gen, pred)
            await session.commit()

    for _ in range(3):  # concurrent selects of one entity never leave two selections behind
        await asyncio.gather(select(one, a), select(two, c), select(one, b))
        assert len(await selected(sessions, [one.id, two.id])) == 1


async def test_cache_lookup_takes_completed_undeleted_generations_with_images(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await generation(sessions, status="failed", cache_key="same")
    await generation(sessions, status="completed", cache_key="same", images=0)
    await generation(sessions, status="completed", cache_key="same", user_id="bob")
    async with sessions() as session:
        assert await q.find_cached(session, "alice", "same") is None
    hit, _ = await generation(sessions, status="completed", cache_key="same", completed_at=utcnow())
    async with sessions() as session:
        found = await q.find_cached(session, "alice", "same")
        assert found is not None and found.id == hit.id
        assert await q.find_cached(session, "alice", "same", exclude=hit.id) is None
        await q.soft_delete(session, hit.id)
        await session.commit()
        assert await q.find_cached(session, "alice", "same") is None


async def test_a_stopped_job_settles_its_generation(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        jobs = []
        for status, message in (("cancelled", None), ("failed", "worker lost"), ("processing", None)):
            job = Job(
                id=uuid.uuid4(),
                user_id="alice",
                job_type="generate_image",
                task_name="t",
                queue_job_id="q",
                status=status,
                error_message=message,
                error_code="worker_lost" if message else None,
            )
            session.add(job)
            jobs.append(job)
        await session.flush()
        rows = [
            await q.create_generation(
                session, user_id="alice", prompt="p", params={}, provider="openai", cache_key="k", job_id=job.id
            )
            for job in jobs
        ]
        await session.commit()
        settled = await q.sync_with_jobs(session, rows)
        await session.commit()
    assert [(g.status, g.error, g.error_code) for g in settled] == [
        ("cancelled", "cancelled", "cancelled"),
        ("failed", "worker lost", "worker_lost"),
        ("pending", None, None),
    ]
