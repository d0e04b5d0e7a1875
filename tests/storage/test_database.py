"""The engine against real PostgreSQL: a pooled connection that died while idle is replaced, not reused."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text

from storage import database
from storage.database import create_engine

pytestmark = pytest.mark.postgres


async def test_idle_connection_killed_by_the_server_is_replaced(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)
    engine = create_engine(pg_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            first_pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        killer = await asyncpg.connect(pg_url.replace("postgresql+asyncpg", "postgresql"))
        try:  # another session ends the pooled one, as a server restart or an idle timeout would
            await killer.execute("SELECT pg_terminate_backend($1)", first_pid)
        finally:
            await killer.close()
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
            assert await conn.scalar(text("SELECT pg_backend_pid()")) != first_pid
    finally:
        await engine.dispose()


async def test_busy_connection_is_not_pinged(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Within the idle window a checkout costs no round trip: the ping is not called."""
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

    calls: list[int] = []
    original = AsyncAdapt_asyncpg_connection.ping

    def counting_ping(self: AsyncAdapt_asyncpg_connection) -> None:
        calls.append(1)
        original(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counting_ping)
    engine = create_engine(pg_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        for _ in range(3):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        assert calls == []
        monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        assert calls == [1]
    finally:
        await engine.dispose()
