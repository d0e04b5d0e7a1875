"""In-process event bus for job state changes.

The job service publishes every change here; waiters (POST /api/actions, MCP wait),
and later the webhook and websocket deliverers, subscribe.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

EVENT_TYPES = ("job.created", "job.updated", "job.completed", "job.failed", "job.cancelled")
FINAL_EVENT = {"completed": "job.completed", "failed": "job.failed", "cancelled": "job.cancelled"}


@dataclass(frozen=True)
class JobEvent:
    type: str
    job_id: uuid.UUID
    user_id: str
    status: str
    timestamp: datetime
    job: dict[str, Any]
    event_id: int | None = None
    origin: str | None = None

    def envelope(self) -> dict[str, Any]:
        """The wire shape of every transport: ``{type, timestamp, data}`` (data: the JobResponse)."""
        return {"type": self.type, "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"), "data": self.job}


EventFilter = Callable[[JobEvent], bool]


class EventBus:
    """Fan-out of ``JobEvent`` to subscriber queues; a slow subscriber drops its oldest events.

    Forwarders (the Redis relay in scaled mode) get every event raised in this process, so
    servers also see events of jobs that run in arq workers; listeners are plain callbacks
    (the webhook deliverer's wake-up).
    """

    def __init__(self, queue_size: int = 1000) -> None:
        self._subscribers: set[tuple[asyncio.Queue[JobEvent], EventFilter | None]] = set()
        self._queue_size = queue_size
        self.origin = uuid.uuid4().hex
        self.forwarders: list[Callable[[JobEvent], None]] = []
        self.listeners: list[Callable[[JobEvent], None]] = []

    def publish(self, event: JobEvent) -> None:
        if event.origin is None:
            event = replace(event, origin=self.origin)
            for forward in self.forwarders:
                forward(event)
        for listener in self.listeners:
            listener(event)
        for queue, accept in list(self._subscribers):
            if accept is not None and not accept(event):
                continue
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self, accept: EventFilter | None = None) -> AsyncIterator[asyncio.Queue[JobEvent]]:
        queue: asyncio.Queue[JobEvent] = asyncio.Queue(self._queue_size)
        entry = (queue, accept)
        self._subscribers.add(entry)
        try:
            yield queue
        finally:
            self._subscribers.discard(entry)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
