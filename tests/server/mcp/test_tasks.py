"""The tasks extension (io.modelcontextprotocol/tasks) through the in-memory client: create, poll, result, cancel."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult

from server.auth import LOCAL_PRINCIPAL
from server.mcp import build_mcp_server
from server.runtime import Runtime
from tests.support.mcp_clients import TASKS, CreateTaskResult, TasksClient, cancel_task, get_task, poll_task


def client(runtime: Runtime, *, tasks: bool = True) -> Client:
    server = build_mcp_server(runtime, local_principal=LOCAL_PRINCIPAL)
    return Client(server, extensions=[TasksClient()] if tasks else None)


async def start_task(mcp: Client, arguments: dict[str, Any]) -> CreateTaskResult:
    created = await mcp.session.call_tool("sleep", arguments, allow_claimed=True)
    assert isinstance(created, CreateTaskResult), created
    return created


async def test_server_advertises_the_extension(runtime: Runtime) -> None:
    async with client(runtime) as mcp:
        assert mcp.protocol_version == "2026-07-28"
        assert TASKS in (mcp.server_capabilities.extensions or {})


async def test_round_trip_create_poll_result(runtime: Runtime) -> None:
    async with client(runtime) as mcp:
        created = await start_task(mcp, {"user_id": "u1", "seconds": 0.5, "steps": 5})
        assert created.status == "working" and created.ttl_ms is None and created.poll_interval_ms
        first = await get_task(mcp.session, created.task_id)
        assert first.status in ("working", "completed")
        done = await poll_task(mcp.session, created.task_id)
        job = await mcp.call_tool("get_job", {"job_id": created.task_id})
    assert done.status == "completed" and done.result is not None
    result = CallToolResult.model_validate(done.result)
    assert not result.is_error
    assert result.structured_content["status"] == "completed"
    assert result.structured_content["result"]["steps"] == 5
    assert job.structured_content["status"] == "completed"  # the task is the job


async def test_call_tool_resolves_the_task_transparently(runtime: Runtime) -> None:
    async with client(runtime) as mcp:
        result = await mcp.call_tool("sleep", {"user_id": "u1", "seconds": 0.2, "steps": 2})
    assert not result.is_error
    assert result.structured_content["result"]["steps"] == 2


async def test_cancel(runtime: Runtime) -> None:
    async with client(runtime) as mcp:
        created = await start_task(mcp, {"user_id": "u1", "seconds": 30, "steps": 300})
        ack = await cancel_task(mcp.session, created.task_id)
        state = await poll_task(mcp.session, created.task_id)
        again = await cancel_task(mcp.session, created.task_id)  # eventually consistent: still just an ack
    assert ack.model_dump(exclude_none=True) == again.model_dump(exclude_none=True)
    assert state.status == "cancelled" and state.result is None


async def test_a_failed_job_completes_the_task_with_a_tool_error(runtime: Runtime) -> None:
    async with client(runtime) as mcp:
        created = await start_task(mcp, {"user_id": "u1", "seconds": 0.1, "fail_with": "no such photo"})
        state = await poll_task(mcp.session, created.task_id)
    assert state.status == "completed"
    result = CallToolResult.model_validate(state.result)
    assert result.is_error and result.content[0].text == "no such photo"  # type: ignore[union-attr]


async def test_invalid_arguments_answer_at_once_without_a_task(runtime: Runtime) -> None:
    async with client(runtime) as mcp:
        result = await mcp.session.call_tool("sleep", {"user_id": "u1", "seconds": -1}, allow_claimed=True)
    assert isinstance(result, CallToolResult) and result.is_error
    assert result.content[0].text == "seconds: Input should be greater than or equal to 0"  # type: ignore[union-attr]


async def test_an_explicit_wait_lets_a_quick_job_answer_inline(runtime: Runtime) -> None:
    async with client(runtime) as mcp:
        result = await mcp.session.call_tool("sleep", {"user_id": "u1", "seconds": 0, "wait": 5}, allow_claimed=True)
    assert isinstance(result, CallToolResult) and result.structured_content["status"] == "completed"


async def test_clients_without_the_extension_get_plain_results(runtime: Runtime) -> None:
    async with client(runtime, tasks=False) as mcp:
        handle = await mcp.call_tool("sleep", {"user_id": "u1", "seconds": 5, "wait": 0})
        assert handle.structured_content["status"] in ("pending", "processing")
        with pytest.raises(MCPError) as refused:
            await get_task(mcp.session, handle.structured_content["job_id"])
    assert refused.value.error.code == -32021


async def test_unknown_task(runtime: Runtime) -> None:
    async with client(runtime) as mcp:
        with pytest.raises(MCPError) as unknown:
            await get_task(mcp.session, "00000000-0000-0000-0000-000000000000")
        with pytest.raises(MCPError) as malformed:
            await cancel_task(mcp.session, "not-a-task")
    assert unknown.value.error.code == -32602 and "Task not found" in unknown.value.error.message
    assert malformed.value.error.code == -32602
