"""The arq dispatcher against real Redis: re-offering pending jobs enqueues only those arq lost."""

from __future__ import annotations

import uuid

import pytest
from arq.constants import job_key_prefix

from server.dispatch.arq_queue import ArqDispatcher, connect
from tests.support.services import REDIS_URL, require_service

pytestmark = pytest.mark.redis


async def test_offer_enqueues_only_jobs_the_queue_does_not_hold() -> None:
    require_service("redis", REDIS_URL, 6379)
    redis = await connect(REDIS_URL)
    queue = f"aib-test-{uuid.uuid4().hex[:8]}"
    dispatcher = ArqDispatcher(redis, queue)
    jobs = [(uuid.uuid4(), f"{queue}-{n}") for n in range(3)]
    try:
        await dispatcher.enqueue(*jobs[0])
        await dispatcher.enqueue(*jobs[1])
        await redis.delete(job_key_prefix + jobs[1][1])  # arq lost this one (e.g. Redis restarted)
        await redis.zrem(queue, jobs[1][1])
        assert await dispatcher.offer(jobs) == 2  # the lost one and the never-enqueued one
        assert await redis.zcard(queue) == 3
        assert await dispatcher.offer(jobs) == 0  # nothing enqueued twice
        assert await redis.zcard(queue) == 3
    finally:
        await redis.delete(queue, *(job_key_prefix + queue_job_id for _, queue_job_id in jobs))
        await redis.aclose()
