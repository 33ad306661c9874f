"""The MCP server: a thin face over the library core.

Each tool module (core, knowledge, datasets, decisions) adds tools/resources for one capability through its
``register``. Tools do no SQL and hold no business logic: they call the core, and translate its named
exceptions into ``ToolError`` (or ``ResourceError`` for resources) whose message says what to do next. The
helpers they share live in the leaf module ``server/context.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.mcpserver import MCPServer

from mcp_distill import __version__
from mcp_distill.config import Settings
from mcp_distill.score import load_rules
from mcp_distill.server import core, datasets, decisions, knowledge, mapping, protocol, redaction
from mcp_distill.server.context import AppState, StateHolder
from mcp_distill.store import open_store

INSTRUCTIONS = (
    "mcp-distill turns agent-loop evidence (JSONL telemetry, reviews, verdicts, overrides, traces) into "
    "scored runs, playbooks, datasets and routing decisions, in one SQLite file. Typical flow: "
    "collect_evidence -> score_run -> search_playbooks / routing_ledger / export_dataset. "
    "Read distill://stats for what the store holds."
)



def build_server(settings: Settings | None = None) -> MCPServer:
    """The server over the store named by ``settings`` (default: environment and defaults)."""
    cfg = settings or Settings.from_env()

    holder = StateHolder()

    @asynccontextmanager
    async def lifespan(_server: MCPServer) -> AsyncIterator[AppState]:
        store = open_store(cfg.db_path)
        holder.current = AppState(store=store, settings=cfg, rules=load_rules(cfg.rules_path))
        try:
            yield holder.current
        finally:
            holder.current = None
            store.close()

    mcp = MCPServer("mcp-distill", version=__version__, instructions=INSTRUCTIONS, lifespan=lifespan)
    for module in (core, knowledge, datasets, decisions, mapping):
        module.register(mcp, holder)
    protocol.register(mcp, holder)  # last: it wraps the handlers the modules' tools/resources/prompts use
    redaction.install(mcp, holder)  # every tool result, resource, prompt and error is redacted
    return mcp


__all__ = ["INSTRUCTIONS", "build_server"]
