"""The arq dispatcher: the queue carries job ids; arq's abort reaches running jobs."""

from __future__ import annotations

import uuid

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import abort_jobs_ss
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

    async def abort(self, job_id: uuid.UUID, queue_job_id: str) -> None:
        await self.redis.zadd(abort_jobs_ss, {queue_job_id: timestamp_ms()})

    async def ping(self) -> bool:
        return bool(await self.redis.ping())
