"""Reaching the real PostgreSQL and Redis the tests need; skip (or fail in CI) when they are down."""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlparse

import pytest

POSTGRES_URL = os.environ.get("AI_BACKEND_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("AI_BACKEND_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url.replace("+asyncpg", ""))
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, default_port: int) -> None:
    """Skip with a clear reason when a service is down, unless AI_BACKEND_REQUIRE_SERVICES=1 (then fail)."""
    if _reachable(url, default_port):
        return
    reason = f"{name} is not reachable at {url} (start it, or set AI_BACKEND_TEST_{name.upper()}_URL)"
    if os.environ.get("AI_BACKEND_REQUIRE_SERVICES") == "1":
        pytest.fail(reason + "; AI_BACKEND_REQUIRE_SERVICES=1 requires it")
    pytest.skip(reason)


async def create_database() -> str:
    """Create an empty PostgreSQL database for one test and return its async URL."""
    import asyncpg

    require_service("postgres", POSTGRES_URL, 5432)
    name = f"aib_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


async def drop_database(url: str) -> None:
    import asyncpg

    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
