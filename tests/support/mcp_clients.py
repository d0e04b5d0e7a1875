"""Real MCP clients for tests: Streamable HTTP with an API key, stdio through the console script,
and the client side of the tasks extension (io.modelcontextprotocol/tasks)."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx2
from mcp.client import ClaimContext, Client, ClientExtension, ResultClaim
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, Request, RequestParams, Result

TASKS = "io.modelcontextprotocol/tasks"
TERMINAL = ("completed", "failed", "cancelled")


@asynccontextmanager
async def http_session(base_url: str, key: str | None, **options: Any) -> AsyncIterator[Client]:
    """A connected MCP client on ``{base_url}/mcp``, sending ``X-API-Key`` when a key is given."""
    headers = {"X-API-Key": key} if key else {}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=120))
    async with http, Client(streamable_http_client(f"{base_url}/mcp", http_client=http), **options) as client:
        yield client


def stdio_client(env: dict[str, str], *args: str, **options: Any) -> Client:
    """``ai-backend mcp`` as a desktop assistant starts it: the console script, talking over stdin/stdout."""
    script = Path(sys.executable).with_name("ai-backend")
    command = str(script) if script.exists() else "ai-backend"
    keep = {k: v for k, v in env.items() if k.startswith("AI_BACKEND_") or k in ("PYTHONPATH", "HOME", "PATH")}
    return Client(StdioServerParameters(command=command, args=["mcp", *args], env=keep), **options)


class TaskId(RequestParams):
    task_id: str


class GetTaskRequest(Request[TaskId, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    params: TaskId
    name_param = "taskId"


class CancelTaskRequest(Request[TaskId, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    params: TaskId
    name_param = "taskId"


class TaskState(Result):
    """A task as ``tasks/get`` describes it (the spec's DetailedTask)."""

    task_id: str
    status: str
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None
    poll_interval_ms: int | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class CreateTaskResult(TaskState):
    """What a task-augmented ``tools/call`` answers instead of a ``CallToolResult``."""

    result_type: Literal["task"] = "task"


class Ack(Result):
    pass


async def get_task(session: ClientSession, task_id: str) -> TaskState:
    return await session.send_request(GetTaskRequest(params=TaskId(task_id=task_id)), TaskState)


async def cancel_task(session: ClientSession, task_id: str) -> Ack:
    return await session.send_request(CancelTaskRequest(params=TaskId(task_id=task_id)), Ack)


async def poll_task(session: ClientSession, task_id: str, within: float = 20) -> TaskState:
    """Poll ``tasks/get`` (faster than the server's hint, to keep tests quick) until the task is terminal."""
    deadline = time.monotonic() + within
    while True:
        state = await get_task(session, task_id)
        if state.status in TERMINAL:
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"task {task_id} still {state.status} after {within}s")
        await anyio.sleep(0.05)


class TasksClient(ClientExtension):
    """Announces the tasks extension; ``Client.call_tool`` then polls a task handle to its result."""

    identifier = TASKS

    def claims(self) -> list[ResultClaim[Any]]:
        async def resolve(created: CreateTaskResult, ctx: ClaimContext) -> CallToolResult:
            state = await poll_task(ctx.session, created.task_id)
            assert state.status == "completed", state
            assert state.result is not None
            return CallToolResult.model_validate(state.result)

        return [ResultClaim(result_type="task", model=CreateTaskResult, resolve=resolve)]
