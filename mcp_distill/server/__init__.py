"""MCP face of mcp-distill (stdio and Streamable HTTP)."""

from mcp_distill.server.app import build_server

__all__ = ["build_server"]
