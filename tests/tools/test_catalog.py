from __future__ import annotations

import pytest
from pydantic import BaseModel

from tools.catalog import Catalog, Operation
from tools.registry import CATALOG, PLANNED_ACTIONS


class _P(BaseModel):
    user_id: str


async def _handler(params: _P, ctx: object) -> _P:
    return params


def test_catalog_rejects_duplicates_and_bad_names() -> None:
    catalog = Catalog()
    op = Operation("thing", "Thing", "does a thing", _P, _P, _handler, "THING")  # type: ignore[arg-type]
    catalog.register(op)
    with pytest.raises(ValueError, match="registered twice"):
        catalog.register(op)
    with pytest.raises(ValueError, match="snake_case"):
        catalog.register(Operation("Bad-Name", "x", "x", _P, _P, _handler, "BAD"))  # type: ignore[arg-type]
    assert op.task_name.endswith("._handler")


def test_planned_actions_are_contract_actions_until_built() -> None:
    for action in PLANNED_ACTIONS:
        assert CATALOG.by_action(action) is not None or action in CATALOG.planned_actions
    for op in CATALOG:
        assert op.description and op.title
        assert "user_id" in op.params_model.model_fields, op.name
