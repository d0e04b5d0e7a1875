"""``GET /health``: is the database reachable, and the queue (arq's Redis) in scaled mode."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.rest.jobs import runtime_of


def package_version() -> str:
    try:
        return version("ai-backend")
    except PackageNotFoundError:
        return "0.0.0+unknown"


async def health(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    db_ok = await runtime.database_ok()
    dispatcher = runtime.service.dispatcher
    ping = getattr(dispatcher, "ping", None)
    if ping is None:
        queue = {"ok": dispatcher is not None, "mode": "embedded"}
    else:
        try:
            queue_ok = bool(await ping())
        except Exception:
            queue_ok = False
        queue = {"ok": queue_ok, "mode": "arq", "queue": runtime.settings.queue_name}
    ok = db_ok and bool(queue["ok"])
    body = {
        "status": "ok" if ok else "degraded",
        "version": package_version(),
        "database": {"ok": db_ok, "backend": runtime.database_backend},
        "queue": queue,
    }
    return JSONResponse(body, status_code=200 if ok else 503)


routes = [Route("/health", health, methods=["GET"])]
