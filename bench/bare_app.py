"""The baseline for ``bench_job_api.py``: a bare Starlette endpoint that reads one job row and returns it.

Same database, same engine settings (``storage.database.create_engine`` on the URL the real
server uses, from the same ``AI_BACKEND_*`` environment), same uvicorn defaults; no auth, no
ORM session, no pydantic, one SELECT. Run it with
``uvicorn bench.bare_app:app --host 127.0.0.1 --port 8001 --no-access-log``.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from storage.database import create_engine
from storage.models import Job
from tools.settings import Settings

settings = Settings()
engine = create_engine(settings.effective_database_url)
jobs = Job.__table__


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


async def get_job(request: Request) -> Response:
    try:
        job_id = uuid.UUID(request.path_params["job_id"])
    except ValueError:
        return JSONResponse({"detail": "Job not found"}, status_code=404)
    async with engine.connect() as connection:
        row = (await connection.execute(select(jobs).where(jobs.c.id == job_id))).mappings().first()
    if row is None:
        return JSONResponse({"detail": "Job not found"}, status_code=404)
    body = json.dumps({key: _plain(value) for key, value in row.items()}, separators=(",", ":"))
    return Response(body, media_type="application/json")


async def health(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


@contextlib.asynccontextmanager
async def lifespan(_: Starlette) -> AsyncIterator[None]:
    yield
    await engine.dispose()


app = Starlette(
    routes=[Route("/api/jobs/{job_id}", get_job, methods=["GET"]), Route("/health", health, methods=["GET"])],
    lifespan=lifespan,
)
