"""Real event receivers on loopback: a webhook endpoint that verifies Standard Webhooks signatures
(with the standardwebhooks package) and a websocket server, each in its own thread and loop."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from websockets.asyncio.server import ServerConnection, serve

from tests.support.loopback import UvicornThread
from tests.support.processes import free_port


@dataclass
class Received:
    at: float
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class WebhookReceiver:
    """Answers ``statuses`` in turn (then 200), verifying every signature with ``secret``."""

    secret: str | None = None
    statuses: list[int] = field(default_factory=list)
    always: int | None = None
    received: list[Received] = field(default_factory=list)
    attempts: list[float] = field(default_factory=list)
    bad_signatures: int = 0

    def __post_init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._server = UvicornThread(Starlette(routes=[Route("/hook", self._hook, methods=["POST"])]), self.port)

    async def _hook(self, request: Request) -> Response:
        self.attempts.append(time.monotonic())
        if self.always is not None:
            return Response(status_code=self.always)
        if self.statuses:
            return Response(status_code=self.statuses.pop(0))
        raw = await request.body()
        headers = dict(request.headers)
        if self.secret is not None:
            try:
                Webhook(self.secret).verify(raw, headers)
            except Exception:
                self.bad_signatures += 1
                return Response(status_code=401)
        self.received.append(Received(time.monotonic(), headers, json.loads(raw)))
        return Response(status_code=204)

    def __enter__(self) -> WebhookReceiver:
        self._server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.stop()

    def types_for(self, job_id: str) -> list[str]:
        return [r.body["type"] for r in self.received if r.body["data"]["id"] == job_id]

    def wait_for(self, predicate: Any, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return
            time.sleep(0.05)
        raise AssertionError(f"receiver condition not met in {timeout}s; got {[r.body['type'] for r in self.received]}")


class WebSocketReceiver:
    """A websocket server collecting every text message it is sent."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}/events"
        self.messages: list[dict[str, Any]] = []
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _handler(self, connection: ServerConnection) -> None:
        self.connections += 1
        async for message in connection:
            self.messages.append(json.loads(message))

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            async with serve(self._handler, "127.0.0.1", self.port):
                self._ready.set()
                await self._stop.wait()

        self._loop.run_until_complete(main())

    def __enter__(self) -> WebSocketReceiver:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
