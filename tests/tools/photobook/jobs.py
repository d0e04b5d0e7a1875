"""Running operations on an embedded runtime in tests: import a folder, run an action, wait."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from server.runtime import Runtime
from storage.models import Job


async def run_job(runtime: Runtime, operation: str, params: dict[str, Any], limit: float = 90.0) -> Job:
    op = runtime.catalog.get(operation)
    assert op is not None, operation
    job = await runtime.service.submit(op, op.params_model.model_validate(params), str(params["user_id"]))
    async with asyncio.timeout(limit):
        while True:
            found, summary = await runtime.service.get_with_summary(job.id)  # type: ignore[misc]
            settled = summary is None or (summary.pending == 0 and summary.processing == 0)
            if found.status in ("completed", "failed", "cancelled") and settled:
                return found
            await asyncio.sleep(0.1)


async def import_folder(runtime: Runtime, user_id: str, folder: Path) -> None:
    job = await run_job(
        runtime, "import_user_images", {"user_id": user_id, "source_type": "local", "path": str(folder)}
    )
    assert job.status == "completed", job.error_message
