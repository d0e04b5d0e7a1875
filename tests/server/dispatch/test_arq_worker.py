"""The refilling arq worker against real Redis: a freed slot takes the next job before the next poll."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from arq.connections import RedisSettings, create_pool
from arq.worker import func

from server.dispatch.arq_worker import RefillingWorker
from tests.support.services import REDIS_URL, require_service

pytestmark = pytest.mark.redis

POLL_DELAY = 5.0


async def short_job(_ctx: dict[str, Any]) -> str:
    await asyncio.sleep(0.05)
    return "done"


async def test_jobs_queued_behind_a_full_worker_start_when_a_slot_frees() -> None:
    """One slot, a 5 s poll delay, four 50 ms jobs: plain arq needs three more polls (15 s)."""
    require_service("redis", REDIS_URL, 6379)
    queue = f"aib-test-{uuid.uuid4().hex[:8]}"
    redis = await create_pool(RedisSettings.from_dsn(REDIS_URL), default_queue_name=queue)
    worker = RefillingWorker(
        functions=[func(short_job, name="short_job")],
        queue_name=queue,
        redis_pool=redis,
        max_jobs=1,
        poll_delay=POLL_DELAY,
        keep_result=60,
        handle_signals=False,
    )
    jobs = [await redis.enqueue_job("short_job", _queue_name=queue) for _ in range(4)]
    began = time.monotonic()
    runner = asyncio.create_task(worker.main())
    try:
        results = [await job.result(timeout=POLL_DELAY, poll_delay=0.05) for job in jobs if job is not None]
        elapsed = time.monotonic() - began
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await worker.close()
        await redis.delete(queue)
        await redis.aclose()
    assert results == ["done"] * 4
    assert elapsed < POLL_DELAY, elapsed  # all four within the first poll interval
