"""/openapi.json keeps the contract's paths and schemas unchanged, plus our additions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from server.openapi import CONTRACT_PATH
from tools.settings import Settings

SHARED_CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "spec" / "ai-backend.openapi.json"


def test_packaged_contract_matches_shared_copy() -> None:
    if not SHARED_CONTRACT.exists():
        pytest.skip(f"{SHARED_CONTRACT} not present beside the checkout")
    assert json.loads(CONTRACT_PATH.read_text()) == json.loads(SHARED_CONTRACT.read_text())


def test_served_spec_contains_contract_unchanged(tmp_path: Path) -> None:
    contract = json.loads(CONTRACT_PATH.read_text())
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        spec = client.get("/openapi.json").json()
        docs = client.get("/docs")
    for path, item in contract["paths"].items():
        assert spec["paths"][path] == item, path
    for name, schema in contract["components"]["schemas"].items():
        if name == "ActionType":
            assert set(schema["enum"]) <= set(spec["components"]["schemas"][name]["enum"])
            continue
        assert spec["components"]["schemas"][name] == schema, name
    assert "SLEEP" in spec["components"]["schemas"]["ActionType"]["enum"]
    assert "/health" in spec["paths"]
    assert spec["components"]["securitySchemes"] == contract["components"]["securitySchemes"]
    assert docs.status_code == 200 and "/openapi.json" in docs.text
