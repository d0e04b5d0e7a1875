"""The same migrations on SQLite (WAL) and PostgreSQL; upgrading twice is a no-op."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from storage.database import create_engine
from storage.migrate import current_revision, upgrade
from storage.models import Base


async def _check(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        head = await current_revision(engine)
        await upgrade(engine)
        assert await current_revision(engine) == head
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
            for table in Base.metadata.sorted_tables:
                columns = await connection.run_sync(
                    lambda c, t=table.name: {col["name"] for col in inspect(c).get_columns(t)}
                )
                assert columns == {col.name for col in table.columns}, table.name
        assert {t.name for t in Base.metadata.sorted_tables} <= tables
    finally:
        await engine.dispose()


async def test_sqlite_migrations_and_wal(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await _check(url)
    engine = create_engine(url)
    async with engine.connect() as connection:
        assert (await connection.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    await engine.dispose()


@pytest.mark.postgres
async def test_postgres_migrations(pg_url: str) -> None:
    await _check(pg_url)
