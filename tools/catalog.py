"""The operation catalog: one registry that REST actions, JSON-RPC and MCP are generated from.

An operation is a typed async function ``handler(params, ctx) -> result`` with pydantic
params and result models. Registering it here is all it takes to appear on every door.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from tools.context import ToolContext
from tools.settings import Settings

Handler = Callable[[Any, ToolContext], Awaitable[BaseModel]]
Precheck = Callable[[Any, Settings], None]


@dataclass(frozen=True)
class Policy:
    """How callers wait for an operation and how its job is run.

    ``default_wait`` is how long a synchronous door (POST /api/actions, an MCP tool call)
    waits for the job before handing back a job handle; ``None`` means the action default.
    """

    default_wait: float | None = None
    max_retries: int | None = None
    cpu_bound: bool = False


@dataclass(frozen=True)
class Annotations:
    """MCP tool annotations, set truthfully per operation."""

    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False
    open_world: bool = False


@dataclass(frozen=True)
class Operation:
    """One catalog entry."""

    name: str
    title: str
    description: str
    params_model: type[BaseModel]
    result_model: type[BaseModel]
    handler: Handler
    action: str
    policy: Policy = field(default_factory=Policy)
    annotations: Annotations = field(default_factory=Annotations)
    # Cheap offline checks every door runs before a job exists (raise a ToolFailure, e.g. a 400).
    precheck: Precheck | None = None

    @property
    def task_name(self) -> str:
        """The handler's qualified name (reported as ``celery_task_name``)."""
        return f"{self.handler.__module__}.{self.handler.__qualname__}"


_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class Catalog:
    """Operations by name and by action type."""

    def __init__(self) -> None:
        self._by_name: dict[str, Operation] = {}
        self._by_action: dict[str, Operation] = {}
        self.planned_actions: dict[str, str] = {}

    def register(self, op: Operation) -> Operation:
        if not _NAME.match(op.name):
            raise ValueError(f"operation name {op.name!r} must be snake_case")
        if op.name in self._by_name or op.action in self._by_action:
            raise ValueError(f"operation {op.name!r} / action {op.action!r} registered twice")
        self._by_name[op.name] = op
        self._by_action[op.action] = op
        self.planned_actions.pop(op.action, None)
        return op

    def plan(self, action: str, issue: str) -> None:
        """Declare a contract action whose operation is not built yet (answers 501)."""
        if action not in self._by_action:
            self.planned_actions[action] = issue

    def get(self, name: str) -> Operation | None:
        return self._by_name.get(name)

    def by_action(self, action: str) -> Operation | None:
        return self._by_action.get(action)

    def __iter__(self) -> Iterator[Operation]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    @property
    def action_names(self) -> list[str]:
        return sorted([*self._by_action, *self.planned_actions])
