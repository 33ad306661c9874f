"""MCP face of mcp-distill (stdio and Streamable HTTP)."""

from .app import build_server

__all__ = ["build_server"]
