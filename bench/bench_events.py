"""Benchmark: job events delivered as signed webhooks, on embedded and on arq (2 workers).

For each backend: start the service, a separate webhook receiver process (verifies every
Standard Webhooks signature), subscribe to every event of every job, submit N trivial jobs
(`sleep`, seconds=0) through POST /api/actions, and wait until every job's job.completed
has arrived. Figures:
- events/s: events received / (last arrival - first arrival);
- latency: arrival time - the event's `data.updated_at` (the job row's change time), p50/p99.
Both processes run on this machine, so their clocks are the same clock.

    .venv/bin/python -m bench.bench_events            # 300 jobs per backend
    .venv/bin/python -m bench.bench_events --short    # 60 jobs per backend
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench._common import (
    POSTGRES_URL,
    PYTHON,
    REDIS_URL,
    BenchError,
    HelpFormatter,
    Procs,
    create_admin_key,
    free_port,
    machine_line,
    percentile,
    postgres_database,
    print_table,
    service_env,
    service_reachable,
    start_server,
    start_worker,
    temp_dir,
    time_limit,
    wait_until,
)

EVENTS = ["job.created", "job.updated", "job.completed", "job.failed", "job.cancelled"]


async def _submit(base: str, key: str, jobs: int) -> None:
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, limits=limits, timeout=60) as client:
        semaphore = asyncio.Semaphore(16)

        async def one(n: int) -> None:
            async with semaphore:
                body = {"user_id": f"bench{n % 8}", "action": "SLEEP", "params": {"seconds": 0, "steps": 1, "wait": 0}}
                response = await client.post("/api/actions", json=body)
                if response.status_code != 202:
                    raise BenchError(f"submit answered {response.status_code}: {response.text}")

        await asyncio.gather(*(one(n) for n in range(jobs)))


def _read(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def run_backend(backend: str, jobs: int, work: Path, stack: contextlib.ExitStack) -> dict[str, Any]:
    settings: dict[str, Any] = {"allow_private_networks": 1}
    if backend == "arq":
        database = stack.enter_context(postgres_database(POSTGRES_URL, "events"))
        settings |= {
            "database_url": database,
            "redis_url": REDIS_URL,
            "queue_name": f"aib-bench-{uuid.uuid4().hex[:8]}",
        }
    env = service_env(work / backend, **settings)
    procs = stack.enter_context(Procs(work))
    key = create_admin_key(env)
    server, base = start_server(procs, env, f"{backend}-serve")
    if backend == "arq":
        for n in range(2):
            start_worker(procs, env, f"{backend}-worker{n}")
    log = work / f"{backend}-events.jsonl"
    port = free_port()
    receiver_env = env | {"AIB_RECEIVER_LOG": str(log)}
    receiver = procs.start(
        f"{backend}-receiver",
        [
            PYTHON,
            "-m",
            "uvicorn",
            "bench.webhook_receiver:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        receiver_env,
    )
    receiver_url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _up(receiver_url), 30, "webhook receiver")
    sub = httpx.post(
        f"{base}/api/subscriptions",
        headers={"X-API-Key": key},
        json={"target_url": f"{receiver_url}/hook", "events": EVENTS},
        timeout=30,
    )
    if sub.status_code != 201:
        raise BenchError(f"subscription answered {sub.status_code}: {sub.text}")
    httpx.post(f"{receiver_url}/secret", content=sub.json()["secret"], timeout=10)

    started = time.time()
    asyncio.run(_submit(base, key, jobs))
    wait_until(lambda: sum(1 for e in _read(log) if e["type"] == "job.completed") >= jobs, 300, "all job.completed")
    time.sleep(1.0)  # let stragglers of other types arrive
    server.check_alive()
    receiver.check_alive()
    events = _read(log)
    arrivals = sorted(e["t"] for e in events)
    latencies = [(e["t"] - datetime.fromisoformat(e["at"].replace("Z", "+00:00")).timestamp()) * 1000 for e in events]
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else float("nan")
    by_type: dict[str, int] = {}
    for event in events:
        by_type[event["type"]] = by_type.get(event["type"], 0) + 1
    return {
        "backend": backend,
        "jobs": jobs,
        "events": len(events),
        "by_type": by_type,
        "events_per_s": len(events) / span if span else float("nan"),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "wall_s": time.time() - started,
    }


def _up(url: str) -> bool:
    try:
        return httpx.post(f"{url}/hook", content=b"{}", timeout=1).status_code in (401, 503)
    except httpx.HTTPError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--jobs", type=int, default=300, help="trivial jobs per backend")
    parser.add_argument("--short", action="store_true", help="60 jobs per backend")
    parser.add_argument("--backends", default="embedded,arq", help="comma-separated: embedded, arq")
    parser.add_argument("--max-seconds", type=float, default=900, help="abort the run after this long")
    args = parser.parse_args(argv)
    jobs = 60 if args.short else args.jobs
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "arq" in backends and not (service_reachable(POSTGRES_URL, 5432) and service_reachable(REDIS_URL, 6379)):
        raise BenchError("arq needs PostgreSQL and Redis (AI_BACKEND_BENCH_POSTGRES_URL / _REDIS_URL)")
    print(machine_line())
    results = []
    with time_limit(args.max_seconds), temp_dir("bench-events") as work:
        for backend in backends:
            with contextlib.ExitStack() as stack:
                results.append(run_backend(backend, jobs, work, stack))
    rows = [
        [r["backend"], r["jobs"], r["events"], f"{r['events_per_s']:.0f}", f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}"]
        for r in results
    ]
    print_table(["backend", "jobs", "events", "events/s", "p50 ms", "p99 ms"], rows)
    for r in results:
        print(f"{r['backend']}: events by type {r['by_type']}; wall {r['wall_s']:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
