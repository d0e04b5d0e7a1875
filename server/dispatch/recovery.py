"""The reaper loop: re-queues jobs whose worker died and pending jobs that lost their queue entry."""

from __future__ import annotations

import asyncio
import logging

from server.jobs.service import JobService

log = logging.getLogger(__name__)


async def reaper_loop(service: JobService, queue: str | None) -> None:
    """Every heartbeat interval: retry stale running jobs, re-offer pending ones the queue lost,
    and finish parents whose last child's settle was lost with its worker."""
    interval = service.settings.heartbeat_interval
    while True:
        await asyncio.sleep(interval)
        try:
            await service.reap_stale()
            await service.requeue_pending(queue, min_age=interval)
            await service.settle_finished_parents()
        except Exception:
            log.warning("reaper pass failed", exc_info=True)
