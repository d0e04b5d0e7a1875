"""A worker SIGKILLed mid-job: the job is retried and completes; with no retries left it fails clearly."""

from __future__ import annotations

import pytest

from tests.support.deployments import deploy
from tests.support.polling import poll_job, settled, submit

pytestmark = pytest.mark.slow


@pytest.mark.postgres
@pytest.mark.redis
def test_arq_worker_killed_mid_job_is_retried_elsewhere() -> None:
    with deploy("arq", workers=1) as deployment, deployment.client() as client:
        job_id = submit(client, seconds=2, steps=20).json()["job_id"]
        running = poll_job(client, job_id, lambda j: j["status"] == "processing" and j["progress_percent"] >= 10)
        deployment.workers[0].kill()
        deployment.add_worker()
        done = poll_job(client, job_id, settled, timeout=45)
    assert done["status"] == "completed", deployment.logs()
    assert done["retry_count"] == 1
    assert done["result"]["steps"] == 20
    assert done["celery_task_id"] != running["celery_task_id"]


def test_embedded_server_killed_mid_job_resumes_on_restart() -> None:
    with deploy("embedded") as deployment:
        with deployment.client() as client:
            running_id = submit(client, seconds=2, steps=20).json()["job_id"]
            queued_ids = [submit(client, seconds=0, steps=1).json()["job_id"] for _ in range(3)]
            poll_job(client, running_id, lambda j: j["status"] == "processing" and j["progress_percent"] >= 10)
        deployment.server.kill()
        deployment.restart_server()
        with deployment.client() as client:
            done = poll_job(client, running_id, settled, timeout=30)
            others = [poll_job(client, job_id, settled) for job_id in queued_ids]
    assert done["status"] == "completed", deployment.logs()
    assert done["retry_count"] == 1
    assert all(job["status"] == "completed" for job in others)


def test_job_fails_clearly_when_retries_are_spent() -> None:
    with deploy("embedded", max_retries=0) as deployment:
        with deployment.client() as client:
            job_id = submit(client, seconds=5, steps=50).json()["job_id"]
            poll_job(client, job_id, lambda j: j["status"] == "processing")
        deployment.server.kill()
        deployment.restart_server()
        with deployment.client() as client:
            done = poll_job(client, job_id, settled, timeout=30)
    assert done["status"] == "failed"
    assert done["error_message"] == "server restarted while the job was running; gave up after 0 retries"
