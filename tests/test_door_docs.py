"""mcp.json, docs/mcp.md and docs/jsonrpc.md stay true to the code."""

from __future__ import annotations

import json
import re
import tomllib

from server import jsonrpc
from server.auth import HEADER
from server.cli import build_parser
from server.mcp import MCP_PATH
from server.mcp.door import IMAGE_URI, JOB_URI, THUMBNAIL_URI
from server.mcp.tasks_extension import TASKS_EXTENSION
from server.mcp.tools import JOB_TOOL_NAMES
from tests.support.processes import ROOT


def test_mcp_json_runs_the_console_script_and_points_at_the_http_endpoint() -> None:
    config = json.loads((ROOT / "mcp.json").read_text())["mcpServers"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    stdio, http = config["ai-backend"], config["ai-backend-http"]
    assert stdio["command"] in scripts
    assert build_parser().parse_args(stdio["args"]).command == "mcp"
    assert http["type"] == "http" and http["url"].endswith(MCP_PATH)
    assert [name.lower() for name in http["headers"]] == [HEADER.decode()]


def test_mcp_doc_names_the_job_tools_resources_and_extension() -> None:
    doc = (ROOT / "docs" / "mcp.md").read_text()
    for name in (*JOB_TOOL_NAMES, JOB_URI, IMAGE_URI, THUMBNAIL_URI, TASKS_EXTENSION, "ai-backend mcp"):
        assert name in doc, name


def test_jsonrpc_error_table_matches_the_codes() -> None:
    doc = (ROOT / "docs" / "jsonrpc.md").read_text()
    rows = dict(re.findall(r"^\| (-32\d{3}) \| ([^|]+?) \|", doc, re.MULTILINE))
    for name, code in jsonrpc.ERROR_CODES.items():
        assert name in rows[str(code)], (name, code)
    standard = {jsonrpc.PARSE_ERROR, jsonrpc.INVALID_REQUEST, jsonrpc.METHOD_NOT_FOUND, jsonrpc.INTERNAL_ERROR}
    assert {str(code) for code in standard} <= set(rows)
    for method in jsonrpc.JOB_METHODS:
        assert f"`{method}`" in doc
