"""A short-lived cache of ``GET /api/jobs/{id}`` bodies, dropped by the job's own events.

Clients poll job status; most polls find nothing changed. Every change a process makes goes
through the job service (which drops the entry at once), and changes made in other processes
(arq workers, a second embedded process) arrive as bus events (the Redis relay) and drop it
too. The TTL bounds what no event announces: progress-only changes inside the
``job.updated`` throttle of another process, or a relay outage. A parent's entry is dropped
with each child's change, so ``children_summary`` stays current.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from server.jobs.events import JobEvent

MAX_ENTRIES = 10_000


class JobReadCache:
    """job id -> (owner, response body), valid ``ttl`` seconds unless an event drops it first."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[uuid.UUID, tuple[float, str, bytes]] = {}
        self._dropped: dict[uuid.UUID, int] = {}
        self._clock = itertools.count(1)
        self._floor = 0  # tickets at or below this predate a forgotten drop: never stored
        self._loading: dict[uuid.UUID, asyncio.Task[tuple[str, bytes]]] = {}

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def get(self, job_id: uuid.UUID) -> tuple[str, bytes] | None:
        entry = self._entries.get(job_id)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(job_id, None)
            return None
        return entry[1], entry[2]

    async def fetch(self, job_id: uuid.UUID, load: Callable[[], Awaitable[tuple[str, bytes]]]) -> tuple[str, bytes]:
        """The cached answer, or one ``load`` shared by every request that misses meanwhile.

        Without sharing, each expiry sent every waiting poll to the database at once (64
        connections: a 100+ ms stall every TTL). A change drops the shared load too, so a
        request that arrives after a change never gets a body read before it.
        """
        cached = self.get(job_id)
        if cached is not None:
            return cached
        task = self._loading.get(job_id)
        if task is None:
            ticket = self.ticket()

            async def load_and_keep() -> tuple[str, bytes]:
                owner, body = await load()
                self.put(job_id, owner, body, ticket)
                return owner, body

            task = asyncio.ensure_future(load_and_keep())
            self._loading[job_id] = task
            task.add_done_callback(lambda done: self._loaded(job_id, done))
        return await asyncio.shield(task)

    def _loaded(self, job_id: uuid.UUID, task: asyncio.Task[tuple[str, bytes]]) -> None:
        if self._loading.get(job_id) is task:
            del self._loading[job_id]
        if not task.cancelled():
            task.exception()  # retrieved: waiters re-raise it; nobody waiting is fine too

    def ticket(self) -> int:
        """Take before reading the row; ``put`` refuses the body if the job changed meanwhile."""
        return next(self._clock)

    def put(self, job_id: uuid.UUID, user_id: str, body: bytes, ticket: int) -> None:
        if not self.enabled or ticket <= self._floor or self._dropped.get(job_id, 0) >= ticket:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[job_id] = (time.monotonic() + self.ttl, user_id, body)

    def drop(self, *job_ids: uuid.UUID | None) -> None:
        stamp = next(self._clock)
        if len(self._dropped) >= MAX_ENTRIES:
            # Forget old drops; every ticket taken before now is refused instead.
            self._dropped.clear()
            self._entries.clear()
            self._floor = stamp
        for job_id in job_ids:
            if job_id is not None:
                self._entries.pop(job_id, None)
                self._loading.pop(job_id, None)
                self._dropped[job_id] = stamp

    def on_event(self, event: JobEvent) -> None:
        """Bus listener: a job's change drops it and its parent (whose summary counts it)."""
        self.drop(event.job_id, _uuid(event.job.get("parent_id")))


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None
