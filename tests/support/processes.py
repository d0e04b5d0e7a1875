"""Real server and worker processes for integration tests (`ai-backend serve` / `ai-backend worker`)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CLI = [sys.executable, "-m", "server.cli"]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(data_dir: Path, **settings: str | float | int | None) -> dict[str, str]:
    """Environment for a child process: AI_BACKEND_* from keyword args (None drops a variable)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AI_BACKEND_") or k.startswith("AI_BACKEND_TEST")}
    env["AI_BACKEND_DATA_DIR"] = str(data_dir)
    env.setdefault("AI_BACKEND_LOG_LEVEL", "INFO")
    env["PYTHONPATH"] = str(ROOT)
    for key, value in settings.items():
        if value is not None:
            env[f"AI_BACKEND_{key.upper()}"] = str(value)
    return env


def create_key(env: dict[str, str], *, user_id: str | None = None) -> str:
    args = ["keys", "create", "--admin"] if user_id is None else ["keys", "create", "--user-id", user_id]
    out = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    match = re.search(r"aib_[A-Za-z0-9_\-]+", out)
    assert match, out
    return match.group(0)


class Process:
    """A child process whose output goes to a log file (read back on failure)."""

    def __init__(self, args: list[str], env: dict[str, str], name: str) -> None:
        self.log = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        self._log_handle = self.log.open("w")
        self.proc = subprocess.Popen(args, env=env, stdout=self._log_handle, stderr=subprocess.STDOUT, cwd=ROOT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up (a crashed machine)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 15) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log_handle.close()


class Server(Process):
    def __init__(self, env: dict[str, str], port: int | None = None) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        super().__init__([*CLI, "serve", "--port", str(self.port)], env, "server")
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.output()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not healthy after {timeout}s:\n{self.output()}")


class Worker(Process):
    def __init__(self, env: dict[str, str]) -> None:
        super().__init__([*CLI, "worker"], env, "worker")

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited:\n{self.output()}")
            if "Starting worker" in self.output() or "redis_version" in self.output():
                return
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready after {timeout}s:\n{self.output()}")
