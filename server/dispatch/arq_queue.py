"""The arq dispatcher: the queue carries job ids; arq's abort reaches running jobs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import abort_jobs_ss, job_key_prefix, result_key_prefix
from arq.utils import timestamp_ms

RUN_JOB = "run_job"


def redis_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


async def connect(url: str) -> ArqRedis:
    return await create_pool(redis_settings(url))


class ArqDispatcher:
    """A ``Dispatcher`` that enqueues ``run_job(job_id)`` on an arq queue."""

    def __init__(self, redis: ArqRedis, queue_name: str) -> None:
        self.redis = redis
        self.queue_name = queue_name

    async def enqueue(self, job_id: uuid.UUID, queue_job_id: str) -> None:
        # arq ignores a second enqueue of the same queue job id while the first is known.
        await self.redis.enqueue_job(RUN_JOB, str(job_id), _job_id=queue_job_id, _queue_name=self.queue_name)

    async def offer(self, jobs: Sequence[tuple[uuid.UUID, str]]) -> int:
        """Enqueue the jobs arq holds neither queued nor finished: one pipelined look-up for all."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for _, queue_job_id in jobs:
                pipe.exists(job_key_prefix + queue_job_id, result_key_prefix + queue_job_id)
            known = await pipe.execute()
        lost = [(job_id, queue_job_id) for (job_id, queue_job_id), n in zip(jobs, known, strict=True) if not n]
        for job_id, queue_job_id in lost:
            await self.enqueue(job_id, queue_job_id)
        return len(lost)

    async def abort(self, job_id: uuid.UUID, queue_job_id: str) -> None:
        await self.redis.zadd(abort_jobs_ss, {queue_job_id: timestamp_ms()})

    async def ping(self) -> bool:
        return bool(await self.redis.ping())
