"""Errors an operation may raise; every door maps them to its own status codes.

Each carries a stable ``code`` (used by JSON-RPC and stored on failed jobs) and the
HTTP status REST answers with, so one failure reads the same over REST, JSON-RPC and MCP.
"""

from __future__ import annotations


class ToolFailure(Exception):
    """A failure whose message is safe to show to a client."""

    code = "internal_error"
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParams(ToolFailure):
    """The caller's parameters are wrong; the message names the field."""

    code = "invalid_params"
    http_status = 400


class NotFound(ToolFailure):
    """The user, image or other record does not exist for this caller."""

    code = "not_found"
    http_status = 404


class Forbidden(ToolFailure):
    """The caller may not act on this user's data."""

    code = "forbidden"
    http_status = 403


class UpstreamError(ToolFailure):
    """A provider or download source the operation depends on failed."""

    code = "upstream_error"
    http_status = 502


class NotImplementedOperation(ToolFailure):
    """The operation exists in the contract but is not built yet."""

    code = "not_implemented"
    http_status = 501


class JobCancelled(Exception):
    """Raised inside a running operation when its job was cancelled."""


ERROR_CLASSES: dict[str, type[ToolFailure]] = {
    cls.code: cls for cls in (ToolFailure, InvalidParams, NotFound, Forbidden, UpstreamError, NotImplementedOperation)
}


def failure_from_code(code: str | None, message: str) -> ToolFailure:
    """Rebuild a failure stored on a job row (code + message) as an exception."""
    return ERROR_CLASSES.get(code or "", ToolFailure)(message)
