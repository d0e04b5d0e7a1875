"""Shared plumbing for the benchmarks: child processes, throw-away databases, load generators, reporting.

Everything here binds to 127.0.0.1 only, every child process is stopped on exit (and dies with
the benchmark through PR_SET_PDEATHSIG if the benchmark itself is killed), and every run is
bounded by a wall-clock limit.

``python -m bench._common loadgen ...`` is the fallback HTTP load generator (used when ``wrk``
is not installed, or with ``--client python``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
CLI = [PYTHON, "-m", "server.cli"]
POSTGRES_URL = os.environ.get("AI_BACKEND_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("AI_BACKEND_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:10]


class BenchError(Exception):
    """A benchmark could not run as set up (a process died, a service is down, a wait ran out)."""


class BenchTimeout(BenchError):
    pass


# -- time limits and signals ----------------------------------------------------------------------


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Abort the whole benchmark after ``seconds`` (SIGALRM); SIGTERM/SIGINT also unwind cleanly."""

    def on_alarm(_signum: int, _frame: Any) -> None:
        raise BenchTimeout(f"benchmark ran past its limit of {seconds:.0f}s (--max-seconds)")

    def on_term(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    old_alarm = signal.signal(signal.SIGALRM, on_alarm)
    old_term = signal.signal(signal.SIGTERM, on_term)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_alarm)
        signal.signal(signal.SIGTERM, old_term)


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise BenchTimeout(f"timed out after {timeout:.0f}s waiting for {what}")


# -- child processes ------------------------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when the benchmark process dies, however it dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except where the help text already says them (default None/False)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default == []:
            return action.help
        return super()._get_help_string(action)


EXTRA_SETTINGS: dict[str, str] = {}  # from --set NAME=VALUE


def add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="extra setting for the server and workers, as AI_BACKEND_NAME (e.g. --set runner_concurrency=8)",
    )


def apply_set_option(values: Sequence[str]) -> None:
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise BenchError(f"--set wants NAME=VALUE, got {item!r}")
        EXTRA_SETTINGS[name.strip().upper().removeprefix("AI_BACKEND_")] = value


def service_env(data_dir: Path, **settings: str | float | int | None) -> dict[str, str]:
    """The environment for server/worker children: this one without AI_BACKEND_*, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AI_BACKEND_")}
    env["AI_BACKEND_DATA_DIR"] = str(data_dir)
    env["AI_BACKEND_HOST"] = "127.0.0.1"
    env["AI_BACKEND_LOG_LEVEL"] = "INFO"  # the default; servers log no access lines, workers one per job
    env["AI_BACKEND_CPU_WORKERS"] = "1"
    env["PYTHONPATH"] = str(ROOT)
    env.update({f"AI_BACKEND_{name}": value for name, value in EXTRA_SETTINGS.items()})
    for key, value in settings.items():
        if value is not None:
            env[f"AI_BACKEND_{key.upper()}"] = str(value)
    return env


class Proc:
    """A child process logging to a file in the run's temp dir; stopped by ``Procs.stop_all``."""

    def __init__(self, name: str, args: Sequence[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log = log_dir / f"{name}.log"
        self._handle = self.log.open("w")
        self.proc = subprocess.Popen(
            list(args),
            env=env,
            cwd=ROOT,
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self, tail: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def cpu_seconds(self) -> float:
        """User+system CPU time of the process (and its waited-for children) so far; 0 once it is gone."""
        return process_cpu_seconds(self.proc.pid)

    def check_alive(self) -> None:
        if not self.alive():
            raise BenchError(f"{self.name} exited with {self.proc.returncode}:\n{self.output()}")

    def stop(self, timeout: float = 10) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._handle.close()


class Procs:
    """The processes of one benchmark phase; ``stop_all`` in a ``finally`` (or use as a context)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.items: list[Proc] = []

    def start(self, name: str, args: Sequence[str], env: dict[str, str]) -> Proc:
        proc = Proc(name, args, env, self.log_dir)
        self.items.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.items):
            with contextlib.suppress(Exception):
                proc.stop()
        self.items.clear()

    def __enter__(self) -> Procs:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop_all()


def wait_http_ok(url: str, proc: Proc, timeout: float = 60) -> None:
    import httpx

    def ok() -> bool:
        proc.check_alive()
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ok, timeout, f"{proc.name} at {url}", interval=0.1)


def wait_log(proc: Proc, pattern: str, timeout: float = 60) -> None:
    def seen() -> bool:
        proc.check_alive()
        return pattern in proc.log.read_text(errors="replace")

    wait_until(seen, timeout, f"{proc.name} to log {pattern!r}")


def start_server(procs: Procs, env: dict[str, str], name: str = "ai-backend-serve") -> tuple[Proc, str]:
    port = free_port()
    proc = procs.start(name, [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)], env)
    base = f"http://127.0.0.1:{port}"
    wait_http_ok(f"{base}/health", proc)
    return proc, base


def start_worker(procs: Procs, env: dict[str, str], name: str) -> Proc:
    proc = procs.start(name, [*CLI, "worker"], env)
    wait_log(proc, "Starting worker")
    return proc


def create_admin_key(env: dict[str, str]) -> str:
    """``ai-backend keys create --admin`` against the same store (also migrates it)."""
    done = subprocess.run(
        [*CLI, "keys", "create", "--admin", "--name", "bench"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    match = re.search(r"aib_[A-Za-z0-9_\-]+", done.stdout)
    if done.returncode != 0 or not match:
        raise BenchError(f"keys create failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return match.group(0)


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}-{RUN_ID}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- PostgreSQL and Redis -------------------------------------------------------------------------


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def service_reachable(url: str, default_port: int) -> bool:
    from urllib.parse import urlparse

    parsed = urlparse(url.replace("+asyncpg", ""))
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def postgres_database(admin_url: str, label: str) -> Iterator[str]:
    """A new, empty database with a unique name (dropped afterwards); yields its async URL."""
    import asyncpg

    if not service_reachable(admin_url, 5432):
        raise BenchError(f"PostgreSQL is not reachable at {admin_url} (--postgres-url)")
    name = f"aib_bench_{label}_{RUN_ID}_{uuid.uuid4().hex[:6]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(_plain(admin_url))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# -- statistics and reporting ---------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print(
            "  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        )
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def machine_line() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, load average {load}, Python {sys.version.split()[0]}"


# -- HTTP load generation -------------------------------------------------------------------------


@dataclass
class LoadResult:
    """One closed-loop load run: N connections, each sending its next request when the last answered."""

    client: str
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


WRK_SCRIPT = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50":%d,"p90":%d,"p99":%d,"max":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(url: str, headers: dict[str, str], connections: int, seconds: float, threads: int = 1) -> LoadResult:
    """``wrk`` (C, epoll, one thread by default so the server keeps the other core) with a JSON summary."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        args = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s"]
        args += ["--timeout", "10s", "-s", script.name]
        for name, value in headers.items():
            args += ["-H", f"{name}: {value}"]
        done = subprocess.run([*args, url], capture_output=True, text=True, timeout=seconds + 60)
    finally:
        os.unlink(script.name)
    match = re.search(r"BENCH_JSON (\{.*\})", done.stdout)
    if done.returncode != 0 or not match:
        raise BenchError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    data = json.loads(match.group(1))
    errors = {k: int(data[k]) for k in ("connect", "read", "write", "status", "timeout") if data[k]}
    return LoadResult(
        client="wrk",
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50"] / 1000,
        p90_ms=data["p90"] / 1000,
        p99_ms=data["p99"] / 1000,
        max_ms=data["max"] / 1000,
        errors=errors,
    )


def run_python_load(url: str, headers: dict[str, str], connections: int, seconds: float) -> LoadResult:
    """The fallback: an asyncio keep-alive client in its own process (``python -m bench._common loadgen``)."""
    args = [PYTHON, "-m", "bench._common", "loadgen", url, "-c", str(connections), "-d", str(seconds)]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60, cwd=ROOT, env=env)
    if done.returncode != 0:
        raise BenchError(f"python load generator failed:\n{done.stdout}\n{done.stderr}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return LoadResult(client="python", **data)


def run_load(client: str, url: str, headers: dict[str, str], connections: int, seconds: float) -> LoadResult:
    if client == "wrk":
        return run_wrk(url, headers, connections, seconds)
    return run_python_load(url, headers, connections, seconds)


def pick_client(requested: str) -> str:
    if requested == "auto":
        return "wrk" if have_wrk() else "python"
    if requested == "wrk" and not have_wrk():
        raise BenchError("wrk is not installed (apt-get install wrk), or use --client python")
    return requested


async def _loadgen(url: str, headers: dict[str, str], connections: int, seconds: float) -> dict[str, Any]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{head}\r\n".encode()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.perf_counter() + seconds

    async def one_connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(request)
                header = await reader.readuntil(b"\r\n\r\n")
                status = int(header.split(b" ", 2)[1])
                length = int(re.search(rb"(?i)content-length:\s*(\d+)", header).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                if not 200 <= status < 400:
                    errors["status"] = errors.get("status", 0) + 1
        except (OSError, asyncio.IncompleteReadError, AttributeError):
            errors["read"] = errors.get("read", 0) + 1
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(one_connection() for _ in range(connections)))
    elapsed = time.perf_counter() - began
    ms = [x * 1000 for x in latencies]
    return {
        "requests": len(ms),
        "seconds": elapsed,
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else float("nan"),
        "errors": errors,
    }


def _loadgen_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench._common loadgen", description="closed-loop HTTP GET load")
    parser.add_argument("url")
    parser.add_argument("-c", "--connections", type=int, default=64)
    parser.add_argument("-d", "--duration", type=float, default=10)
    parser.add_argument("-H", "--header", action="append", default=[], help="'Name: value'")
    args = parser.parse_args(argv)
    headers = dict(h.split(": ", 1) for h in args.header)
    run: Callable[[Any], dict[str, Any]] = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        run = uvloop.run
    result = run(_loadgen(args.url, headers, args.connections, args.duration))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "loadgen":
        raise SystemExit(_loadgen_main(sys.argv[2:]))
    print("usage: python -m bench._common loadgen URL [-c N] [-d SECONDS] [-H 'Name: value']", file=sys.stderr)
    raise SystemExit(2)
