"""Waiting for a job over REST without sleeping blindly."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx


def poll_job(
    client: httpx.Client, job_id: str, until: Callable[[dict[str, Any]], bool], timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = client.get(f"/api/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job = response.json()
        if until(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not reach the expected state in {timeout}s: {job}")


def settled(job: dict[str, Any]) -> bool:
    return job["status"] in ("completed", "failed", "cancelled")


def submit(client: httpx.Client, user_id: str = "u1", wait: float = 0, **params: Any) -> httpx.Response:
    return client.post("/api/actions", json={"user_id": user_id, "action": "SLEEP", "params": {"wait": wait, **params}})
