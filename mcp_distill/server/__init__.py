"""MCP face of mcp-distill (stdio and Streamable HTTP): ``build_server`` (``app``) and the transports (``http``)."""

from mcp_distill.server.app import build_server
from mcp_distill.server.http import DASHBOARD_PATH, check_token, serve_http, serve_stdio

__all__ = ["DASHBOARD_PATH", "build_server", "check_token", "serve_http", "serve_stdio"]
