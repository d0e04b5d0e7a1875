"""Shared fixtures: settings on a temp data dir, an in-process embedded runtime, real PostgreSQL databases."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from server.dispatch.embedded import EmbeddedRunner
from server.runtime import Runtime
from storage.keys import create_key
from tests.support.image_providers import TOKEN, ProviderDouble
from tests.support.services import create_database, drop_database
from tools.settings import Settings

FAST = {"heartbeat_interval": 0.2, "heartbeat_timeout": 2.0, "cpu_workers": 1, "auth_cache_seconds": 0.0}


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    return Settings(data_dir=data_dir, **(FAST | overrides))  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


async def open_embedded(settings: Settings) -> tuple[Runtime, EmbeddedRunner]:
    runtime = Runtime(settings)
    await runtime.open()
    runner = EmbeddedRunner(runtime.service)
    runtime.service.dispatcher = runner
    await runner.start()
    return runtime, runner


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """An embedded runtime (SQLite + in-process runner) in this test's event loop."""
    rt, runner = await open_embedded(settings)
    yield rt
    await runner.stop()
    await rt.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for this test (dropped afterwards)."""
    url = await create_database()
    yield url
    await drop_database(url)


async def new_key(runtime: Runtime, user_id: str | None = None) -> str:
    async with runtime.sessions() as session:
        key = await create_key(session, user_id=user_id, is_admin=user_id is None)
        await session.commit()
    return key.key


@pytest.fixture(scope="module")
def double() -> Iterator[ProviderDouble]:
    """The loopback image providers (OpenAI Images and Replicate protocols), one per test module."""
    with ProviderDouble(token=TOKEN) as running:
        yield running


@pytest.fixture
def provider(double: ProviderDouble) -> Iterator[ProviderDouble]:
    """The providers reset for this test; it fails if they saw any request off the wire protocol."""
    double.reset()
    yield double
    assert double.problems == [], double.problems
