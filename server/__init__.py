"""Everything facing outward: HTTP app, REST, JSON-RPC, MCP, auth, dispatch, CLI."""
