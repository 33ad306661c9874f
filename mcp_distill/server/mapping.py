"""Mapping suggestions: a mapping file for a log format mcp-distill has no adapter for."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from mcp_distill.adapters import suggest_for_paths
from mcp_distill.models import MappingSuggestion
from mcp_distill.server.context import StateHolder, state, tool_errors

READ_ONLY = ToolAnnotations(readOnlyHint=True, idempotentHint=True, openWorldHint=False)


def register(mcp: MCPServer, holder: StateHolder) -> None:
    @mcp.tool(annotations=READ_ONLY)
    @tool_errors
    def suggest_mapping(
        ctx: Context,
        paths: Annotated[list[str], Field(min_length=1, description=(
            "JSONL, JSON or YAML files of one format, inside the configured roots (a relative path is tried "
            "under every root)."))],
        name: Annotated[str | None, Field(description="Stream name for the records (default: from the first "
                                                      "file's name).")] = None,
    ) -> MappingSuggestion:
        """A complete, commented TOML mapping for logs no adapter recognises, inferred from the files' first rows:
        each field's detected role (run, task, time, model, tokens, cost, outcome, prompt, answer) with example
        values. Save `toml` as a file inside the roots and pass it to collect_evidence as `mappings`; without a
        mapping, collect_evidence reads such files with the same inferred roles (stream `inferred`)."""
        return suggest_for_paths(state(ctx).settings, paths, name=name)
