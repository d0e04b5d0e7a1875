"""The MCP door: tools, resources and the tasks extension generated from the catalog (stdio and Streamable HTTP)."""

from server.mcp.server import MCP_PATH, build_mcp_server, http_endpoint

__all__ = ["MCP_PATH", "build_mcp_server", "http_endpoint"]
