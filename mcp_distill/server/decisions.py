"""Decisions and bearings: the model routing ledger, PRD drift against the repository, scratchpads."""

from __future__ import annotations

from typing import Annotated

import orjson
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from mcp_distill.drift import get_snapshot, latest_snapshot, run_drift
from mcp_distill.errors import NotFoundError
from mcp_distill.ledger import Recommendation, ledger_entries, recommend
from mcp_distill.models import DriftReport, ModelLedgerEntry, ScratchpadSummary
from mcp_distill.scratchpad import get_scratchpad, normalize
from mcp_distill.server.context import StateHolder, resource_errors, run_with_progress, state, tool_errors

WRITES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False)


def register(mcp: MCPServer, holder: StateHolder) -> None:
    register_ledger(mcp, holder)

    @mcp.tool(annotations=WRITES)
    @tool_errors
    async def prd_drift(
        ctx: Context,
        prd_path: Annotated[str, Field(description="A PRD / phase-tracker markdown file, or a folder of .md files, "
                                                   "inside the configured roots.")],
        repo_path: Annotated[str, Field(description="Top folder of the git repository the claims are about.")],
        rev: Annotated[str, Field(description="Git revision to check (branch, tag or sha).")] = "HEAD",
        compare_to: Annotated[str | None, Field(
            description="A stored snapshot id (drift-...) or another revision to compare with.")] = None,
    ) -> DriftReport:
        """Check each claim of the PRD (files, symbols, endpoints, tests) at a git revision without touching the
        working tree: verified / partial / missing / unverifiable with evidence; a checked claim that is missing
        is fake. Snapshots are stored per (PRD, repo sha); compare_to lists what newly broke or got verified."""
        app = state(ctx)
        return await run_with_progress(ctx, lambda progress=None: run_drift(
            app.store, app.settings, prd_path, repo_path, rev=rev, compare_to=compare_to))

    @mcp.resource("distill://drift/latest", mime_type="application/json",
                  description="The most recent PRD drift snapshot.")
    @resource_errors
    def drift_latest() -> str:
        return latest_snapshot(holder.get().store).model_dump_json()

    @mcp.resource("distill://drift/{snapshot_id}", mime_type="application/json",
                  description="One PRD drift snapshot: every claim with its status and evidence.")
    @resource_errors
    def drift_snapshot(snapshot_id: str, ctx: Context) -> str:
        return get_snapshot(state(ctx).store, snapshot_id).model_dump_json()

    @mcp.tool(annotations=WRITES)
    @tool_errors
    async def normalize_scratchpad(
        ctx: Context,
        text: Annotated[str | None, Field(description="The scratchpad text (markdown notes, checklist, log).")] = None,
        path: Annotated[str | None, Field(description="Or a file inside the configured roots.")] = None,
        run_id: Annotated[str | None, Field(description="Store the summary under this run.")] = None,
        refine_with_llm: Annotated[bool | None, Field(
            description="Refine with the OpenAI-compatible endpoint of MCP_DISTILL_LLM_URL/_MODEL. Default: only "
                        "when both are set. A failed refinement returns the deterministic result flagged "
                        "needs_human_review.")] = None,
    ) -> ScratchpadSummary:
        """Turn a free-text agent scratchpad into objective, completed / failed / pending steps, paths,
        decisions, open questions, validation status and the next command. Deterministic."""
        app = state(ctx)
        return await run_with_progress(ctx, lambda progress=None: normalize(
            app.store, text=text, path=path, run_id=run_id, settings=app.settings, llm=refine_with_llm,
            command="mcp:normalize_scratchpad"))

    @mcp.resource("distill://scratchpads/{run_id}", mime_type="application/json",
                  description="The latest normalised scratchpad stored for a run.")
    @resource_errors
    def scratchpad_resource(run_id: str, ctx: Context) -> str:
        return get_scratchpad(state(ctx).store, run_id).model_dump_json()


class LedgerResult(BaseModel):
    entries: list[ModelLedgerEntry] = Field(description="task_type x model, best first by the 95% Wilson lower bound.")
    recommendation: Recommendation | None = Field(
        None, description="The model to route this task type to, and why (only when task_type is given).")
    recommendation_error: str | None = Field(None, description="Why no model could be recommended.")


def register_ledger(mcp: MCPServer, holder: StateHolder) -> None:
    @mcp.tool(annotations=WRITES)
    @tool_errors
    async def routing_ledger(
        ctx: Context,
        task_type: Annotated[str | None, Field(description="Only this task type; also asks for a recommendation.")]
        = None,
        model: Annotated[str | None, Field(description="Only this model (exact name or a glob like 'qwen*').")] = None,
        max_cost: Annotated[float | None, Field(ge=0, description="Budget: mean cost per run in USD.")] = None,
        max_latency_ms: Annotated[float | None, Field(ge=0, description="Budget: p95 latency in ms.")] = None,
    ) -> LedgerResult:
        """Which model for this task type? Per task type x model: runs, success rate and its Wilson lower bound
        (small samples rank low), failure modes, best partner, escalation role, cost, latency p50/p95, context
        window. The ledger refreshes incrementally from new evidence first."""
        app = state(ctx)

        def work(progress=None) -> LedgerResult:
            entries = ledger_entries(app.store, task_type=task_type, model=model)
            result = LedgerResult(entries=entries)
            if task_type:
                try:
                    result.recommendation = recommend(app.store, task_type, max_cost=max_cost,
                                                      max_latency_ms=max_latency_ms, refresh=False)
                except NotFoundError as exc:
                    result.recommendation_error = str(exc)
            return result

        return await run_with_progress(ctx, work)

    @mcp.resource("distill://ledger", mime_type="application/json",
                  description="The whole model routing ledger, best first per task type.")
    def ledger_resource() -> str:
        entries = ledger_entries(holder.get().store)
        return orjson.dumps([e.model_dump(mode="json") for e in entries]).decode()

    @mcp.resource("distill://ledger/{task_type}", mime_type="application/json",
                  description="The ledger of one task type with the recommended model.")
    @resource_errors
    def ledger_task_resource(task_type: str, ctx: Context) -> str:
        store = state(ctx).store
        entries = ledger_entries(store, task_type=task_type)
        rec = recommend(store, task_type, refresh=False)
        return orjson.dumps({"entries": [e.model_dump(mode="json") for e in entries],
                             "recommendation": rec.model_dump(mode="json")}).decode()
