"""A webhook receiver for the events benchmark: verifies each signature and logs arrival times.

Runs as its own uvicorn process so receiving does not share a GIL with the server:
    AIB_RECEIVER_SECRET=whsec_... AIB_RECEIVER_LOG=/tmp/events.jsonl uvicorn bench.webhook_receiver:app
The secret may also be set later with ``POST /secret`` (the subscription makes it).
"""

from __future__ import annotations

import json
import os
import time

from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_state: dict[str, Webhook | None] = {"hook": None}
_log = open(os.environ.get("AIB_RECEIVER_LOG", "/dev/null"), "a", buffering=1)  # noqa: SIM115


async def set_secret(request: Request) -> Response:
    _state["hook"] = Webhook((await request.body()).decode())
    return Response(status_code=204)


async def hook(request: Request) -> Response:
    received = time.time()
    raw = await request.body()
    webhook = _state["hook"]
    if webhook is None:
        return Response(status_code=503)
    try:
        envelope = webhook.verify(raw, dict(request.headers))
    except Exception:
        return Response(status_code=401)
    data = envelope["data"]
    _log.write(
        json.dumps({"t": received, "type": envelope["type"], "job": data["id"], "at": data["updated_at"]}) + "\n"
    )
    return Response(status_code=204)


app = Starlette(routes=[Route("/hook", hook, methods=["POST"]), Route("/secret", set_secret, methods=["POST"])])
