"""Playbooks: search them mid-task, rebuild them, read one, and a prompt that applies the best ones."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from mcp_distill.search import (
    PlaybookSearch,
    get_playbook,
    index_playbooks,
    render_for_prompt,
)
from mcp_distill.search import (
    extract_playbooks as core_extract,
)
from mcp_distill.search import (
    search_playbooks as core_search,
)
from mcp_distill.server.context import StateHolder, resource_errors, run_with_progress, state, tool_errors

READ_ONLY = ToolAnnotations(readOnlyHint=True, idempotentHint=True, openWorldHint=False)


class ExtractSummary(BaseModel):
    runs: int
    groups: int
    playbooks: int
    removed: list[str]
    playbook_ids: list[str]
    receipt_id: str
    index: dict = Field(description="Search index update: written, unchanged, embedded, pending, removed.")


def register(mcp: MCPServer, holder: StateHolder) -> None:
    @mcp.tool(annotations=READ_ONLY)
    @tool_errors
    async def search_playbooks(
        ctx: Context,
        query: Annotated[str, Field(description="The task in your own words; any text is safe (no query syntax).")],
        k: Annotated[int, Field(ge=1, le=50, description="How many playbooks to return.")] = 5,
        task_type: Annotated[str | None, Field(description="Only playbooks of this task type.")] = None,
        tags: Annotated[list[str] | None, Field(description="Only playbooks carrying all of these tags.")] = None,
        mode: Annotated[Literal["hybrid", "keyword", "semantic"], Field(
            description="hybrid (BM25 + vectors, fused by reciprocal rank), keyword, or semantic.")] = "hybrid",
        min_strength: Annotated[Literal["none", "weak", "strong"], Field(
            description="Leave out hits weaker than this match strength (default weak: drop non-matches; "
                        "none: return every hit).")] = "weak",
        since: Annotated[str | None, Field(description="Only playbooks whose runs were last seen at or after this "
                                                       "ISO-8601 time (e.g. 2026-04-01).")] = None,
        until: Annotated[str | None, Field(description="Only playbooks last seen before this ISO-8601 time.")] = None,
        exact: Annotated[bool, Field(description="Score every playbook by its exact vector instead of binary-code "
                                                 "candidates (slower on a large index).")] = False,
    ) -> PlaybookSearch:
        """How did we solve this kind of task before? Playbooks distilled from accepted runs, each hit with
        its fused score, each leg's rank and score, and a match strength (strong / weak / none) that means
        the same across queries; nothing_relevant=true when no playbook matches the task."""
        app = state(ctx)
        embedder = app.embedder() if mode != "keyword" else None
        return await run_with_progress(ctx, lambda progress=None: core_search(
            app.store, embedder, query, k=k, task_type=task_type, tags=tags, mode=mode, min_strength=min_strength,
            since=since, until=until, exact=exact))

    @mcp.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True))
    @tool_errors
    async def extract_playbooks(ctx: Context) -> ExtractSummary:
        """Rebuild playbooks from the scored runs (deterministic) and update their search index."""
        app = state(ctx)

        def work(progress=None) -> dict:
            result = core_extract(app.store, progress=progress, command="mcp:extract_playbooks")
            result["index"] = index_playbooks(app.store, app.embedder(), progress=progress)
            return result

        return ExtractSummary.model_validate(await run_with_progress(ctx, work))

    @mcp.resource("distill://playbooks/{playbook_id}", mime_type="application/json",
                  description="One playbook with every field and its success statistics.")
    @resource_errors
    def playbook_resource(playbook_id: str, ctx: Context) -> str:
        return get_playbook(state(ctx).store, playbook_id).model_dump_json()

    @mcp.prompt(description="The best playbooks for a task, as a ready-to-use message.")
    def apply_playbook(task: str) -> str:
        app = holder.get()
        found = core_search(app.store, app.embedder(), task, k=3)
        return render_for_prompt(task, found)
