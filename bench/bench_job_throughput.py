"""Benchmark: trivial jobs created-to-completed per second, embedded and on arq, against raw arq.

Three phases, one run:

1. embedded: ``ai-backend serve`` with the default SQLite store in a temp data dir and the
   in-process runner; N trivial jobs (the ``sleep`` action, seconds=0, steps=1) are submitted
   through ``POST /api/actions`` (params.wait=0, so each answers 202 at once).
2. arq: ``ai-backend serve`` plus ``ai-backend worker`` x2 on a throw-away PostgreSQL database
   and a unique arq queue; the same N jobs through the same door.
3. raw arq: two plain arq workers running a no-op function (same ``max_jobs``/``poll_delay`` as
   ``ai-backend worker``) on another unique queue; N jobs enqueued with ``ArqRedis.enqueue_job``.

Throughput for 1 and 2 is N / (last ``completed_at`` - first ``created_at``) read back from the
job rows; for 3 it is N / (last ``finish_time`` - first ``enqueue_time``) from arq's results.
Target (foundation issue): arq/raw >= 0.5.

    .venv/bin/python -m bench.bench_job_throughput            # full: 1000 jobs per phase
    .venv/bin/python -m bench.bench_job_throughput --short    # 200 jobs per phase
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    POSTGRES_URL,
    PYTHON,
    REDIS_URL,
    RUN_ID,
    BenchError,
    BenchTimeout,
    HelpFormatter,
    Procs,
    add_set_option,
    apply_set_option,
    create_admin_key,
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
    verdict,
    wait_log,
)

TARGET_RATIO = 0.5
BENCH_USER = "bench-user"
FINISHED = ("completed", "failed", "cancelled")


@dataclass
class CpuMeter:
    """CPU time each child (and this process, the client) spent during a phase, per job."""

    def __init__(self, procs: Procs) -> None:
        self.procs = procs
        self.start = {p.name: p.cpu_seconds() for p in procs.items}
        self.start_self = time.process_time()

    def per_job(self, jobs: int) -> dict[str, float]:
        used = {p.name: p.cpu_seconds() - self.start.get(p.name, 0.0) for p in self.procs.items}
        used["bench client"] = time.process_time() - self.start_self
        return {name: round(seconds * 1000 / max(jobs, 1), 2) for name, seconds in used.items()}


@dataclass
class Phase:
    name: str
    jobs: int
    completed: int
    failed: int
    seconds: float  # first created/enqueued -> last completed
    submit_seconds: float  # first -> last created/enqueued
    p50_ms: float  # per-job created -> completed
    p99_ms: float
    cpu_ms_per_job: dict[str, float] = field(default_factory=dict)  # by process, over the phase

    @property
    def throughput(self) -> float:
        return self.completed / self.seconds if self.seconds > 0 else 0.0

    @property
    def submit_rate(self) -> float:
        return self.jobs / self.submit_seconds if self.submit_seconds > 0 else float("inf")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_job_throughput",
        description=(
            "Trivial jobs (sleep, seconds=0, steps=1) created-to-completed per second: embedded "
            "(`ai-backend serve`, SQLite) and scaled (`ai-backend serve` + 2 x `ai-backend worker`, PostgreSQL, "
            "arq), with raw arq enqueue-to-complete of a no-op function (2 plain arq workers) measured in the "
            f"same run as the baseline. Target: arq/raw >= {TARGET_RATIO}."
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("-n", "--jobs", type=int, default=None, help="jobs per phase (1000; short 200)")
    parser.add_argument("--short", action="store_true", help="quick mode: 200 jobs per phase")
    parser.add_argument(
        "--mode", choices=("embedded", "arq", "both"), default="both", help="phases (arq includes the raw baseline)"
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes, ours and raw arq alike")
    parser.add_argument(
        "--submit-concurrency", type=int, default=16, help="requests (or raw enqueues) in flight while submitting"
    )
    parser.add_argument(
        "--door",
        choices=("rest", "rpc"),
        default="rest",
        help="how our jobs are created: one POST /api/actions each, or JSON-RPC batches of --rpc-batch calls "
        "(the HTTP client's own CPU per job is then small, as arq's enqueue is in the raw phase)",
    )
    parser.add_argument("--rpc-batch", type=int, default=25, help="calls per JSON-RPC batch with --door rpc")
    parser.add_argument(
        "--embedded-db", choices=("sqlite", "postgres"), default="sqlite", help="store for the embedded phase"
    )
    parser.add_argument("--postgres-url", default=POSTGRES_URL, help="admin URL used to create/drop databases")
    parser.add_argument("--redis-url", default=REDIS_URL, help="Redis for arq (queues get unique names)")
    parser.add_argument("--phase-timeout", type=float, default=300, help="give up on a phase after this many s")
    parser.add_argument("--max-seconds", type=float, default=900, help="hard wall-clock limit for the whole run")
    add_set_option(parser)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--check", action="store_true", help="exit 3 when the target is missed")
    parser.add_argument("--raw-arq-worker", metavar="QUEUE", help=argparse.SUPPRESS)  # internal: the no-op worker
    args = parser.parse_args(argv)
    apply_set_option(args.set)
    args.jobs = args.jobs or (200 if args.short else 1000)
    return args


# -- measuring from timestamps --------------------------------------------------------------------


def phase_from_times(name: str, jobs: int, rows: Iterable[tuple[datetime, datetime | None, str]]) -> Phase:
    """``rows``: (created or enqueued, completed or finished, status) per job."""
    rows = list(rows)
    done = [(c, f) for c, f, status in rows if status == "completed" and f is not None]
    failed = sum(1 for _, _, status in rows if status != "completed")
    if not done:
        return Phase(name, jobs, 0, failed, 0.0, 0.0, float("nan"), float("nan"))
    first = min(c for c, _, _ in rows)
    last_created = max(c for c, _, _ in rows)
    last_done = max(f for _, f in done)
    latencies = [(f - c).total_seconds() * 1000 for c, f in done]
    return Phase(
        name=name,
        jobs=jobs,
        completed=len(done),
        failed=failed,
        seconds=(last_done - first).total_seconds(),
        submit_seconds=(last_created - first).total_seconds(),
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
    )


# -- our stack: submit through POST /api/actions, read the job rows -------------------------------


async def submit_actions(base: str, key: str, jobs: int, args: argparse.Namespace) -> None:
    """Create ``jobs`` trivial jobs through the chosen door, ``--submit-concurrency`` requests in flight."""
    import httpx

    concurrency = args.submit_concurrency
    body = {"user_id": BENCH_USER, "action": "SLEEP", "params": {"seconds": 0, "steps": 1, "wait": 0}}
    call = {"jsonrpc": "2.0", "method": "sleep", "params": {"user_id": BENCH_USER, "seconds": 0, "steps": 1, "wait": 0}}
    size = args.rpc_batch if args.door == "rpc" else 1
    remaining = iter([min(size, jobs - start) for start in range(0, jobs, size)])
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, limits=limits, timeout=60) as client:

        async def sender() -> None:
            for count in remaining:
                if args.door == "rest":
                    response = await client.post("/api/actions", json=body)
                    if response.status_code not in (200, 202):
                        raise BenchError(f"POST /api/actions answered {response.status_code}: {response.text}")
                    continue
                response = await client.post("/rpc", json=[call | {"id": n} for n in range(count)])
                answers = response.json() if response.status_code == 200 else None
                if not isinstance(answers, list) or any("error" in a for a in answers):
                    raise BenchError(f"POST /rpc answered {response.status_code}: {response.text[:500]}")

        await asyncio.gather(*(sender() for _ in range(concurrency)))


async def run_through_server(
    name: str, base: str, key: str, db_url: str, args: argparse.Namespace, procs: Procs
) -> Phase:
    from sqlalchemy import func, select

    from storage.database import create_engine
    from storage.models import Job

    engine = create_engine(db_url, pool_size=2)
    try:
        meter = CpuMeter(procs)
        submit = asyncio.create_task(submit_actions(base, key, args.jobs, args))
        deadline = time.monotonic() + args.phase_timeout
        finished_query = select(func.count()).where(Job.user_id == BENCH_USER, Job.status.in_(FINISHED))
        while True:
            await asyncio.sleep(0.25)
            if submit.done():
                submit.result()  # raise a submission error at once
            for proc in procs.items:
                proc.check_alive()
            async with engine.connect() as conn:
                finished = int(await conn.scalar(finished_query) or 0)
            if submit.done() and finished >= args.jobs:
                break
            if time.monotonic() > deadline:
                raise BenchTimeout(f"{name}: only {finished} of {args.jobs} jobs finished in {args.phase_timeout:.0f}s")
        cpu = meter.per_job(args.jobs)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(Job.created_at, Job.completed_at, Job.status).where(Job.user_id == BENCH_USER)
                )
            ).all()
    finally:
        await engine.dispose()
    phase = phase_from_times(name, args.jobs, [(r[0], r[1], r[2]) for r in rows])
    phase.cpu_ms_per_job = cpu
    return phase


def door_label(args: argparse.Namespace) -> str:
    return "REST" if args.door == "rest" else f"JSON-RPC batches of {args.rpc_batch}"


def embedded_phase(args: argparse.Namespace) -> Phase:
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(temp_dir("bench-jobs-embedded"))
        procs = stack.enter_context(Procs(tmp))
        pg_url = None
        if args.embedded_db == "postgres":
            pg_url = stack.enter_context(postgres_database(args.postgres_url, "embedded"))
        env = service_env(tmp / "data", database_url=pg_url)
        key = create_admin_key(env)
        _, base = start_server(procs, env)
        db_url = pg_url or f"sqlite+aiosqlite:///{tmp / 'data' / 'ai-backend.db'}"
        store = "PostgreSQL" if pg_url else "SQLite"
        name = f"embedded ({store}, {door_label(args)})"
        return asyncio.run(run_through_server(name, base, key, db_url, args, procs))


def arq_phase(args: argparse.Namespace) -> Phase:
    queue = f"aib-bench-{RUN_ID}-jobs"
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(temp_dir("bench-jobs-arq"))
        db_url = stack.enter_context(postgres_database(args.postgres_url, "arq"))
        stack.callback(lambda: asyncio.run(cleanup_redis(args.redis_url, queue)))
        procs = stack.enter_context(Procs(tmp))
        env = service_env(tmp / "data", database_url=db_url, redis_url=args.redis_url, queue_name=queue)
        key = create_admin_key(env)
        _, base = start_server(procs, env)
        for n in range(args.workers):
            start_worker(procs, env, f"ai-backend-worker-{n + 1}")
        name = f"arq, {args.workers} workers (PostgreSQL, {door_label(args)})"
        return asyncio.run(run_through_server(name, base, key, db_url, args, procs))


# -- raw arq: a no-op function, enqueued directly ---------------------------------------------------


async def noop(_ctx: dict[str, Any]) -> None:
    return None


def raw_worker_main(queue: str) -> int:
    """The plain arq worker: a no-op function, with the knobs ``ai-backend worker`` uses."""
    import logging

    from arq.worker import Worker, func

    from server.dispatch.arq_worker import worker_options
    from tools.settings import Settings

    logging.basicConfig(level="INFO", stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    ours = worker_options(settings)
    knobs = {k: ours[k] for k in ("redis_settings", "max_jobs", "poll_delay", "keep_result", "allow_abort_jobs")}
    Worker(functions=[func(noop, name="noop")], queue_name=queue, **knobs).run()
    return 0


async def raw_arq_run(args: argparse.Namespace, queue: str, procs: Procs) -> Phase:
    from arq.connections import RedisSettings, create_pool
    from arq.jobs import Job as ArqJob

    redis = await create_pool(RedisSettings.from_dsn(args.redis_url), default_queue_name=queue)
    ids = [f"aib-bench-{RUN_ID}-raw-{i}" for i in range(args.jobs)]
    try:
        remaining = iter(ids)
        meter = CpuMeter(procs)

        async def sender() -> None:
            for job_id in remaining:
                if await redis.enqueue_job("noop", _job_id=job_id, _queue_name=queue) is None:
                    raise BenchError(f"arq refused job {job_id} (duplicate id?)")

        submit = asyncio.gather(*(sender() for _ in range(args.submit_concurrency)))
        deadline = time.monotonic() + args.phase_timeout
        while True:
            await asyncio.sleep(0.25)
            if submit.done():
                submit.result()
            for proc in procs.items:
                proc.check_alive()
            async with redis.pipeline(transaction=False) as pipe:
                for job_id in ids:
                    pipe.exists(f"arq:result:{job_id}")
                finished = sum(await pipe.execute())
            if submit.done() and finished >= args.jobs:
                break
            if time.monotonic() > deadline:
                raise BenchTimeout(
                    f"raw arq: only {finished} of {args.jobs} jobs finished in {args.phase_timeout:.0f}s"
                )
        cpu = meter.per_job(args.jobs)
        infos = await asyncio.gather(*(ArqJob(i, redis, _queue_name=queue).result_info() for i in ids))
        rows = [
            (info.enqueue_time, info.finish_time, "completed" if info.success else "failed")
            for info in infos
            if info is not None
        ]
        await redis.delete(*(f"arq:result:{i}" for i in ids))
    finally:
        await redis.aclose()
    phase = phase_from_times(f"raw arq no-op, {args.workers} workers", args.jobs, rows)
    phase.cpu_ms_per_job = cpu
    return phase


def raw_arq_phase(args: argparse.Namespace) -> Phase:
    queue = f"aib-bench-{RUN_ID}-raw"
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(temp_dir("bench-jobs-raw"))
        stack.callback(lambda: asyncio.run(cleanup_redis(args.redis_url, queue)))
        procs = stack.enter_context(Procs(tmp))
        env = service_env(tmp / "data", redis_url=args.redis_url, queue_name=queue)
        for n in range(args.workers):
            proc = procs.start(
                f"raw-arq-worker-{n + 1}", [PYTHON, "-m", "bench.bench_job_throughput", "--raw-arq-worker", queue], env
            )
            wait_log(proc, "Starting worker")
        return asyncio.run(raw_arq_run(args, queue, procs))


async def cleanup_redis(url: str, queue: str) -> None:
    """Drop what this run left in Redis under its unique queue name (results expire by themselves)."""
    from redis.asyncio import Redis

    redis = Redis.from_url(url)
    try:
        keys = [queue, f"{queue}:health-check"]
        keys += [k async for k in redis.scan_iter(match=f"arq:*{RUN_ID}*", count=1000)]
        await redis.delete(*keys)
    finally:
        await redis.aclose()


# -- main -----------------------------------------------------------------------------------------


def report(phases: list[Phase], ratio: float | None) -> None:
    rows = [
        [
            p.name,
            p.jobs,
            p.completed,
            p.failed,
            f"{p.throughput:.1f}",
            f"{p.seconds:.2f}",
            f"{p.submit_rate:.0f}",
            f"{p.p50_ms:.0f}",
            f"{p.p99_ms:.0f}",
        ]
        for p in phases
    ]
    print_table(
        ["phase", "jobs", "done", "failed", "jobs/s", "span s", "submit/s", "p50 ms", "p99 ms"],
        rows,
    )
    print()
    print("  jobs/s = done / (last completed - first created); p50/p99 = per-job created -> completed latency")
    print("  CPU ms per job, by process (PostgreSQL and Redis not counted):")
    for p in phases:
        print(f"    {p.name}: " + ", ".join(f"{k} {v:.2f}" for k, v in p.cpu_ms_per_job.items()))
    if ratio is not None:
        print(
            f"  arq/raw = {ratio:.2f} (target >= {TARGET_RATIO}: {verdict(ratio >= TARGET_RATIO)}, "
            f"{ratio / TARGET_RATIO - 1:+.0%} vs target)"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.raw_arq_worker:
        return raw_worker_main(args.raw_arq_worker)
    print(f"Job throughput benchmark: {machine_line()}")
    print(
        f"{args.jobs} trivial jobs per phase, submit concurrency {args.submit_concurrency}, "
        f"{args.workers} workers for arq and raw arq",
        flush=True,
    )
    if args.mode in ("arq", "both"):
        for what, url, port in (("PostgreSQL", args.postgres_url, 5432), ("Redis", args.redis_url, 6379)):
            if not service_reachable(url, port):
                raise BenchError(f"{what} is not reachable at {url}; the arq phase needs it (or use --mode embedded)")
    phases: list[Phase] = []
    started = time.monotonic()
    with time_limit(args.max_seconds):
        if args.mode in ("embedded", "both"):
            phases.append(embedded_phase(args))
            print(f"  {phases[-1].name}: {phases[-1].throughput:.1f} jobs/s", flush=True)
        ratio = None
        if args.mode in ("arq", "both"):
            raw = raw_arq_phase(args)
            print(f"  {raw.name}: {raw.throughput:.1f} jobs/s", flush=True)
            ours = arq_phase(args)
            print(f"  {ours.name}: {ours.throughput:.1f} jobs/s", flush=True)
            phases += [ours, raw]
            ratio = ours.throughput / raw.throughput if raw.throughput else 0.0
    print()
    print(f"Results ({time.monotonic() - started:.0f} s in all):")
    report(phases, ratio)
    if args.json:
        body = {"args": {k: str(v) for k, v in vars(args).items()}, "phases": [asdict(p) for p in phases]}
        args.json.write_text(json.dumps(body | {"ratio": ratio}))
    failed = any(p.failed for p in phases) or (ratio is not None and ratio < TARGET_RATIO)
    return 3 if (args.check and failed) else 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
