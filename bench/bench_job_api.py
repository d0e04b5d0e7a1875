"""Benchmark: ``GET /api/jobs/{id}`` on the real server against a bare Starlette endpoint, same run.

For each store (SQLite in a temp data dir, the embedded default; and/or a throw-away PostgreSQL
database) it starts ``ai-backend serve`` (``python -m server.cli serve``) and ``uvicorn
bench.bare_app:app`` on loopback, makes one trivial job, then drives both with the same
closed-loop load (64 keep-alive connections by default; ``wrk`` when installed) and prints
requests/s, p50 and p99, and the ratio server/bare.

Targets (foundation issue): ratio >= 0.6 and server p99 < 50 ms.

    .venv/bin/python -m bench.bench_job_api            # full: both stores, 2 alternating rounds of 15 s
    .venv/bin/python -m bench.bench_job_api --short    # a quick look: 1 round of 3 s
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench._common import (
    POSTGRES_URL,
    PYTHON,
    BenchError,
    HelpFormatter,
    LoadResult,
    Procs,
    add_set_option,
    apply_set_option,
    create_admin_key,
    free_port,
    machine_line,
    mean,
    pick_client,
    postgres_database,
    print_table,
    run_load,
    service_env,
    service_reachable,
    start_server,
    temp_dir,
    time_limit,
    verdict,
    wait_http_ok,
    wait_until,
)

TARGET_RATIO = 0.6
BARE_UVICORN = [PYTHON, "-m", "uvicorn", "bench.bare_app:app", "--host", "127.0.0.1", "--no-access-log"]
TARGET_P99_MS = 50.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_job_api",
        description=(
            "GET /api/jobs/{id} on `ai-backend serve` vs a bare Starlette endpoint reading the same row from "
            "the same database, measured side by side in one run. Prints requests/s, p50/p99 latency and the "
            f"ratio server/bare (targets: ratio >= {TARGET_RATIO}, server p99 < {TARGET_P99_MS:g} ms)."
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both", help="store(s) to measure")
    parser.add_argument("-c", "--connections", type=int, default=64, help="concurrent keep-alive connections")
    parser.add_argument("-d", "--duration", type=float, default=None, help="seconds per measured run (15; short 3)")
    parser.add_argument("--warmup", type=float, default=None, help="seconds of unmeasured load first (3; short 1)")
    parser.add_argument(
        "--rounds", type=int, default=None, help="alternating bare/server rounds, averaged (2; short 1)"
    )
    parser.add_argument("--short", action="store_true", help="quick mode: 1 round of 3 s after 1 s warm-up")
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk (C, preferred) or the asyncio fallback in bench/_common.py; auto = wrk if found",
    )
    parser.add_argument("--postgres-url", default=POSTGRES_URL, help="admin URL used to create/drop the database")
    parser.add_argument("--max-seconds", type=float, default=900, help="hard wall-clock limit for the whole run")
    add_set_option(parser)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--check", action="store_true", help="exit 3 when a target is missed")
    args = parser.parse_args(argv)
    apply_set_option(args.set)
    args.duration = args.duration or (3.0 if args.short else 15.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.short else 3.0)
    args.rounds = args.rounds or (1 if args.short else 2)
    return args


def make_trivial_job(base: str, key: str) -> str:
    """One completed `sleep` job (seconds=0): the row both endpoints read."""
    headers = {"X-API-Key": key}
    body = {"user_id": "bench-user", "action": "SLEEP", "params": {"seconds": 0, "steps": 1, "wait": 0}}
    response = httpx.post(f"{base}/api/actions", json=body, headers=headers, timeout=10)
    if response.status_code != 202:
        raise BenchError(f"POST /api/actions answered {response.status_code}: {response.text}")
    job_id = str(response.json()["job_id"])

    def completed() -> bool:
        return httpx.get(f"{base}/api/jobs/{job_id}", headers=headers, timeout=5).json().get("status") == "completed"

    wait_until(completed, 30, f"job {job_id} to complete")
    return job_id


def check_same_row(server_url: str, bare_url: str, key: str) -> None:
    real = httpx.get(server_url, headers={"X-API-Key": key}, timeout=5)
    bare = httpx.get(bare_url, timeout=5)
    if real.status_code != 200 or bare.status_code != 200:
        raise BenchError(f"sanity GET failed: server {real.status_code} {real.text[:200]}, bare {bare.status_code}")
    if real.json()["id"] != bare.json()["id"] or real.json()["status"] != bare.json()["status"]:
        raise BenchError(f"server and bare app disagree on the row:\n{real.text}\n{bare.text}")


def measure_backend(backend: str, args: argparse.Namespace, client: str) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(temp_dir(f"bench-api-{backend}"))
        procs = stack.enter_context(Procs(tmp))
        db_url = stack.enter_context(postgres_database(args.postgres_url, "api")) if backend == "postgres" else None
        env = service_env(tmp / "data", database_url=db_url)
        key = create_admin_key(env)
        _, base = start_server(procs, env)
        job_id = make_trivial_job(base, key)
        bare_port = free_port()
        bare_proc = procs.start(
            "bare-uvicorn",
            [*BARE_UVICORN, "--port", str(bare_port)],
            env,
        )
        bare_base = f"http://127.0.0.1:{bare_port}"
        wait_http_ok(f"{bare_base}/health", bare_proc)

        targets = {
            "bare": (f"{bare_base}/api/jobs/{job_id}", {}),
            "server": (f"{base}/api/jobs/{job_id}", {"X-API-Key": key}),
        }
        check_same_row(targets["server"][0], targets["bare"][0], key)
        runs: dict[str, list[LoadResult]] = {"bare": [], "server": []}
        for n in range(args.rounds):
            order = ["bare", "server"] if n % 2 == 0 else ["server", "bare"]
            for name in order:
                url, headers = targets[name]
                if args.warmup > 0:
                    run_load(client, url, headers, args.connections, args.warmup)
                result = run_load(client, url, headers, args.connections, args.duration)
                runs[name].append(result)
                print(
                    f"  [{backend}] round {n + 1} {name:<6} {result.rps:8.0f} req/s  p50 {result.p50_ms:6.2f} ms  "
                    f"p99 {result.p99_ms:6.2f} ms  errors {result.errors or 0}",
                    flush=True,
                )
        for proc in procs.items:
            proc.check_alive()
        return {"job_id": job_id, "runs": runs}


def summarize(backend: str, runs: dict[str, list[LoadResult]]) -> dict[str, Any]:
    def agg(results: list[LoadResult]) -> dict[str, float]:
        return {
            "rps": mean([r.rps for r in results]),
            "p50_ms": mean([r.p50_ms for r in results]),
            "p99_ms": mean([r.p99_ms for r in results]),
            "p99_ms_worst": max(r.p99_ms for r in results),
            "errors": sum(r.error_count for r in results),
            "requests": sum(r.requests for r in results),
        }

    bare, server = agg(runs["bare"]), agg(runs["server"])
    ratio = server["rps"] / bare["rps"] if bare["rps"] else 0.0
    return {
        "backend": backend,
        "bare": bare,
        "server": server,
        "ratio": ratio,
        "ratio_ok": ratio >= TARGET_RATIO,
        "p99_ok": server["p99_ms"] < TARGET_P99_MS,
        "errors_ok": bare["errors"] == 0 and server["errors"] == 0,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    client = pick_client(args.client)
    backends = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    print(f"GET /api/jobs/{{id}} benchmark: {machine_line()}")
    print(
        f"client {client}, {args.connections} connections, {args.rounds} round(s) of {args.duration:g} s "
        f"(+{args.warmup:g} s warm-up each), stores: {', '.join(backends)}",
        flush=True,
    )
    summaries: list[dict[str, Any]] = []
    started = time.monotonic()
    with time_limit(args.max_seconds):
        for backend in backends:
            if backend == "postgres" and args.db == "both" and not service_reachable(args.postgres_url, 5432):
                print(f"  [postgres] skipped: not reachable at {args.postgres_url}")
                continue
            measured = measure_backend(backend, args, client)
            summaries.append(summarize(backend, measured["runs"]))

    print()
    print(f"Results (mean over rounds; {time.monotonic() - started:.0f} s in all):")
    rows = []
    for s in summaries:
        for name in ("bare", "server"):
            f = s[name]
            rows.append(
                [s["backend"], name, f"{f['rps']:.0f}", f"{f['p50_ms']:.2f}", f"{f['p99_ms']:.2f}", f["errors"]]
            )
    print_table(["store", "endpoint", "req/s", "p50 ms", "p99 ms", "errors"], rows)
    print()
    all_ok = True
    for s in summaries:
        ok = s["ratio_ok"] and s["p99_ok"] and s["errors_ok"]
        all_ok &= ok
        print(
            f"  [{s['backend']}] server/bare = {s['ratio']:.2f} (target >= {TARGET_RATIO}: {verdict(s['ratio_ok'])}, "
            f"{s['ratio'] / TARGET_RATIO - 1:+.0%} vs target); server p99 = {s['server']['p99_ms']:.1f} ms "
            f"(target < {TARGET_P99_MS:g}: {verdict(s['p99_ok'])}); errors: {verdict(s['errors_ok'])}"
        )
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": summaries}))
    return 3 if (args.check and not all_ok) else 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
