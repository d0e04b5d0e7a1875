from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.runtime import Runtime
from tests.conftest import make_settings, open_embedded


@pytest.fixture
async def rt(tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = make_settings(
        tmp_path,
        local_import_enabled=True,
        local_import_roots=[tmp_path],
        runner_concurrency=4,
        heartbeat_interval=1.0,
        heartbeat_timeout=60.0,  # 2 shared cores: the FAST 2 s would "recover" busy jobs
    )
    runtime, runner = await open_embedded(settings)
    yield runtime
    await runner.stop()
    await runtime.close()
