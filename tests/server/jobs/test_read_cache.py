"""The GET /api/jobs/{id} read cache: every change this process makes, and every relayed event, is
seen on the next poll; only unannounced changes of other processes wait for the TTL."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from server.jobs.events import JobEvent
from server.jobs.read_cache import JobReadCache
from server.jobs.service import JobService
from server.runtime import Runtime
from storage import jobs as q
from tests.conftest import make_settings, new_key
from tools.diagnostics import SleepParams

TTL = 0.4


def test_a_body_read_before_a_change_is_never_stored() -> None:
    cache = JobReadCache(ttl=10)
    job = uuid.uuid4()
    ticket = cache.ticket()  # a GET starts reading the row ...
    cache.drop(job)  # ... the job changes meanwhile ...
    cache.put(job, "u1", b"old", ticket)  # ... so what it read is not kept
    assert cache.get(job) is None
    cache.put(job, "u1", b"new", cache.ticket())
    assert cache.get(job) == ("u1", b"new")


def test_entries_expire_and_a_zero_ttl_turns_the_cache_off() -> None:
    cache = JobReadCache(ttl=0.05)
    job = uuid.uuid4()
    cache.put(job, "u1", b"body", cache.ticket())
    assert cache.get(job) is not None
    time.sleep(0.06)
    assert cache.get(job) is None
    off = JobReadCache(ttl=0)
    off.put(job, "u1", b"body", off.ticket())
    assert off.get(job) is None


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, job_cache_seconds=TTL, deliver_events=False)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        client.headers["X-API-Key"] = client.portal.call(new_key, runtime, None)
        yield client


def _service(client: TestClient) -> JobService:
    return client.app.state.runtime.service  # type: ignore[attr-defined,no-any-return]


def _call(client: TestClient, fn: Any, *args: Any, **kwargs: Any) -> Any:
    async def run() -> Any:
        return await fn(*args, **kwargs)

    return client.portal.call(run)


def _undispatched(client: TestClient, parent_id: uuid.UUID | None = None) -> Any:
    """A sleep job that the runner does not take: this test drives its transitions."""
    service = _service(client)
    op = service.catalog.get("sleep")

    async def make() -> Any:
        dispatcher, service.dispatcher = service.dispatcher, None
        try:
            (job,) = await service.submit_many(op, [SleepParams(user_id="u1")], "u1", parent_id=parent_id)  # type: ignore[arg-type]
        finally:
            service.dispatcher = dispatcher
        return job

    return client.portal.call(make)


def test_every_change_of_this_process_and_of_a_child_is_seen_at_once(client: TestClient) -> None:
    service = _service(client)
    parent = _undispatched(client)
    started = _call(client, service.start, parent.id, "w")
    child = _undispatched(client, parent.id)
    _call(client, service.complete, parent.id, 0, {}, started_at=started.started_at)
    first = client.get(f"/api/jobs/{parent.id}").json()
    assert first["children_summary"] == {"total": 1, "pending": 1, "processing": 0, "completed": 0, "failed": 0}
    assert client.get(f"/api/jobs/{parent.id}").json() == first  # a poll with nothing changed

    run = _call(client, service.start, child.id, "w")
    assert client.get(f"/api/jobs/{parent.id}").json()["children_summary"]["processing"] == 1
    _call(client, service.progress, child.id, 0, 10, "first")
    _call(client, service.progress, child.id, 0, 50, "half")  # inside the event throttle: no event
    assert client.get(f"/api/jobs/{child.id}").json()["progress_percent"] == 50
    _call(client, service.complete, child.id, 0, {}, started_at=run.started_at)
    final = client.get(f"/api/jobs/{parent.id}").json()
    assert final["status"] == "completed" and final["children_summary"]["completed"] == 1


def test_other_processes_changes_arrive_by_event_or_within_the_ttl(client: TestClient) -> None:
    service = _service(client)
    job = _undispatched(client)

    async def write_elsewhere(message: str) -> None:  # as another process would, without our service
        async with service.sessions() as session:
            await q.transition(session, job.id, {"progress_message": message})
            await session.commit()

    service.read_cache.ttl = 60.0
    assert client.get(f"/api/jobs/{job.id}").json()["progress_message"] is None
    _call(client, write_elsewhere, "announced")
    assert client.get(f"/api/jobs/{job.id}").json()["progress_message"] is None  # not announced yet
    event = JobEvent("job.updated", job.id, "u1", "pending", job.updated_at, {"parent_id": None}, origin="other")

    async def relay() -> None:  # what the Redis relay does with another process's event
        service.bus.publish(event)

    client.portal.call(relay)
    assert client.get(f"/api/jobs/{job.id}").json()["progress_message"] == "announced"

    service.read_cache.ttl = TTL
    service.read_cache.drop(job.id)
    assert client.get(f"/api/jobs/{job.id}").json()["progress_message"] == "announced"
    _call(client, write_elsewhere, "never announced")
    time.sleep(TTL + 0.05)
    assert client.get(f"/api/jobs/{job.id}").json()["progress_message"] == "never announced"


def test_the_owner_check_applies_to_cached_answers(client: TestClient) -> None:
    job = _undispatched(client)
    assert client.get(f"/api/jobs/{job.id}").status_code == 200  # cached now
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    other = client.portal.call(new_key, runtime, "someone-else")
    assert client.get(f"/api/jobs/{job.id}", headers={"X-API-Key": other}).status_code == 403
    assert client.get(f"/api/jobs/{uuid.uuid4()}").status_code == 404


async def _turns(count: int = 5) -> None:
    """Let the tasks started so far run up to their next wait."""
    for _ in range(count):
        await asyncio.sleep(0)


async def test_concurrent_misses_share_one_load_and_a_change_starts_a_new_one() -> None:
    cache = JobReadCache(ttl=10)
    job = uuid.uuid4()
    loads: list[int] = []
    gate = asyncio.Event()

    async def load() -> tuple[str, bytes]:
        number = len(loads) + 1
        loads.append(number)
        await gate.wait()
        return "u1", f"body {number}".encode()

    waiting = [asyncio.ensure_future(cache.fetch(job, load)) for _ in range(20)]
    await _turns()
    assert loads == [1]  # twenty polls missed at once: one database read
    cache.drop(job)  # the job changes while that read runs ...
    late = asyncio.ensure_future(cache.fetch(job, load))  # ... so a poll arriving now reads anew
    await _turns()
    assert loads == [1, 2]
    gate.set()
    assert {await w for w in waiting} == {("u1", b"body 1")}  # they asked before the change
    assert await late == ("u1", b"body 2")
    assert cache.get(job) == ("u1", b"body 2")  # the first read predates the change: not kept


async def test_a_failed_load_reaches_every_waiter_and_is_not_kept() -> None:
    cache = JobReadCache(ttl=10)
    job = uuid.uuid4()

    async def missing() -> tuple[str, bytes]:
        await asyncio.sleep(0)
        raise LookupError("Job not found")

    results = await asyncio.gather(*(cache.fetch(job, missing) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, LookupError) for r in results)
    assert cache.get(job) is None
