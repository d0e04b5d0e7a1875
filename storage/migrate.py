"""Programmatic Alembic upgrade, used by ``ai-backend db upgrade`` and on embedded start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _upgrade_sync(connection: Any, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        # Several workers may start at once: one migrates, the others wait and find nothing to do.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7263541)")
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; a no-op when it is already there."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade_sync, revision)


def _current_sync(connection: Any) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current_sync)
