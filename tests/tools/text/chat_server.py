"""A real HTTP server on loopback speaking the OpenAI chat completions wire protocol, for tests.

It checks each request as a provider would (path, bearer key, JSON body with model and
messages) and records it; ``mode`` makes it answer normally, fail with 500, or send junk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.loopback import threaded_http


@dataclass
class ChatServer:
    key: str = "sk-test"
    mode: str = "ok"  # ok | error | junk
    answer: list[str] = field(default_factory=lambda: ["Paris im Frühling", "Zwei Tage in Paris", "Unser Mai"])
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def _handler(state: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path != "/v1/chat/completions":
                self._reply(404, {"error": {"message": f"no route {self.path}"}})
                return
            if self.headers.get("Authorization") != f"Bearer {state.key}":
                self._reply(401, {"error": {"message": "Incorrect API key provided"}})
                return
            try:
                body = json.loads(raw)
                assert isinstance(body["model"], str) and body["model"]
                roles = [m["role"] for m in body["messages"]]
                assert roles[0] == "system" and roles[-1] == "user"
                assert all(isinstance(m["content"], str) and m["content"] for m in body["messages"])
                assert body.get("stream") in (None, False)
            except (ValueError, KeyError, TypeError, AssertionError) as exc:
                self._reply(400, {"error": {"message": f"invalid request: {exc!r}"}})
                return
            state.requests.append(body)
            if state.mode == "error":
                self._reply(500, {"error": {"message": "The server had an error while processing your request."}})
                return
            content = "sorry, no" if state.mode == "junk" else json.dumps(state.answer, ensure_ascii=False)
            if state.mode == "junk":
                self._reply(200, {"object": "chat.completion", "choices": []})
                return
            self._reply(
                200,
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                },
            )

    return Handler


@contextmanager
def chat_server() -> Iterator[ChatServer]:
    state = ChatServer()
    with threaded_http(_handler(state)) as port:
        state.port = port
        yield state
