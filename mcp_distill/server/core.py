"""The spine's tools and resources: collect, score, push evidence and overrides, runs, stats, schemas, receipts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from mcp_distill.collect.collector import collect_paths
from mcp_distill.collect.live import record_evidence as core_record_evidence
from mcp_distill.collect.live import record_override as core_record_override
from mcp_distill.collect.runs import get_run
from mcp_distill.models import CollectSummary, RecordResult, ScoreSummary
from mcp_distill.receipts import get_receipt, receipt_json
from mcp_distill.schema_files import schema_for
from mcp_distill.score import score_runs
from mcp_distill.server.context import (
    StateHolder,
    resource_errors,
    resources_changed,
    run_with_progress,
    state,
    tool_errors,
)
from mcp_distill.stats import store_stats

READ_ONLY = ToolAnnotations(readOnlyHint=True, idempotentHint=True, openWorldHint=False)
# What a collect or a score may change. Runs are many, and which ones changed is not tracked per call, so every
# subscribed run is told; a client re-reads it, which is cheap.
CHANGED_BY_COLLECT = ("distill://stats", "distill://ledger", "distill://ledger/*", "distill://runs/*")
CHANGED_BY_SCORE = CHANGED_BY_COLLECT
WRITES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False)


def register(mcp: MCPServer, holder: StateHolder) -> None:
    _register_pipeline(mcp)
    _register_live(mcp)
    _register_resources(mcp, holder)


def _register_pipeline(mcp: MCPServer) -> None:
    @mcp.tool(annotations=WRITES)
    @tool_errors
    async def collect_evidence(
        ctx: Context,
        paths: Annotated[list[str] | None, Field(
            description="Files or folders of JSONL/JSON sources, inside the configured roots (a relative path is "
                        "tried under every root in order). Omit to collect every configured root.")] = None,
        mappings: Annotated[list[str] | None, Field(
            description="TOML mapping files (inside the roots) that map another JSONL format onto evidence "
                        "records (suggest_mapping writes one); see docs/streams.md.")] = None,
        redact: Annotated[bool, Field(
            description="Redact every string before storing it, so the store never holds a secret (the server "
                        "setting MCP_DISTILL_REDACT_ON_COLLECT=1 does so for every collect; a store collected "
                        "so keeps redacting).")] = False,
        infer: Annotated[bool, Field(
            description="Read files no adapter or mapping claims with inferred field roles (stream 'inferred', the "
                        "mapping used in per_file[].inferred_mapping); false quarantines their lines.")] = True,
    ) -> CollectSummary:
        """Collect agent-loop evidence into the store: streaming, incremental (only appended bytes are read
        again), idempotent (collecting twice adds nothing). Malformed lines are quarantined, never dropped."""
        app = state(ctx)
        result = await run_with_progress(ctx, collect_paths, app.store, app.settings, paths, mapping_files=mappings,
                                         command="mcp:collect_evidence", log_as="collect_evidence", redact=redact,
                                         infer=infer)
        if result.total("inserted"):
            await resources_changed(ctx, *CHANGED_BY_COLLECT)
        return CollectSummary.model_validate(result.as_dict())

    @mcp.tool(annotations=WRITES)
    @tool_errors
    async def score_run(
        ctx: Context,
        run_id: Annotated[str | None, Field(
            description="A run_id or run key (run:..., file:..., pr:...). Omit to score every unscored run.")] = None,
        rescore: Annotated[bool, Field(description="Score again runs that already have a score "
                                                   "(after a rules change).")] = False,
    ) -> ScoreSummary:
        """Deterministic success scoring (no LLM): accepted / partially_accepted / rejected / needs_human_review,
        with the reasons naming every signal used and the scorer_version of the rules."""
        app = state(ctx)
        result = await run_with_progress(ctx, score_runs, app.store, app.rules, run=run_id, rescore=rescore,
                                         command="mcp:score_run", log_as="score_run")
        if result["scored"]:
            await resources_changed(ctx, *CHANGED_BY_SCORE)
        return ScoreSummary.model_validate(result)


def _register_live(mcp: MCPServer) -> None:
    @mcp.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False))
    @tool_errors
    def record_evidence(
        ctx: Context,
        record: Annotated[dict[str, Any], Field(
            description="EvidenceRecord fields (see distill://schemas/EvidenceRecord) without record_id and "
                        "provenance, e.g. {\"run_id\": \"r1\", \"model_name\": \"m\", \"signals\": "
                        "{\"verdict\": \"accept\", \"verdict_source\": \"observer\"}}.")],
    ) -> RecordResult:
        """Push one evidence record live. It is appended to the store's live log and collected from there,
        so it carries provenance like any file-borne record."""
        return RecordResult.model_validate(core_record_evidence(state(ctx).store, record))

    @mcp.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False))
    @tool_errors
    async def record_override(
        ctx: Context,
        run_id: Annotated[str, Field(description="The run_id or run key the decision is about.")],
        category: Annotated[Literal["accepted", "partially_accepted", "rejected", "needs_human_review"],
                            Field(description="The human decision.")],
        reason: Annotated[str, Field(min_length=1, description="Why, in a sentence.")],
        reviewer: Annotated[str | None, Field(description="Who decided.")] = None,
    ) -> RecordResult:
        """Record a human decision on a run. Overrides always win in scoring; score_run applies it."""
        app = state(ctx)
        out = core_record_override(app.store, run_id, category, reason, reviewer)
        score_runs(app.store, app.rules, run=out["run_key"], command="mcp:record_override")
        await resources_changed(ctx, "distill://stats", "distill://ledger", "distill://ledger/*",
                                f"distill://runs/{run_id}", f"distill://runs/{out['run_key']}")
        return RecordResult.model_validate(out)


def _register_resources(mcp: MCPServer, holder: StateHolder) -> None:
    @mcp.resource("distill://runs/{run_id}", mime_type="application/json",
                  description="One run with every record joined to it and its score.")
    @resource_errors
    def run_resource(run_id: str, ctx: Context) -> str:
        return orjson.dumps(get_run(state(ctx).store, run_id)).decode()

    @mcp.resource("distill://stats", mime_type="application/json", description="What the store holds, in numbers.")
    def stats_resource() -> str:
        return orjson.dumps(store_stats(holder.get().store)).decode()

    @mcp.resource("distill://schemas/{name}", mime_type="application/schema+json",
                  description="JSON Schema of EvidenceRecord, ScoredRun, Playbook, ScratchpadSummary, "
                              "ModelLedgerEntry, RagSample, SftSample, PreferenceSample or Receipt.")
    @resource_errors
    def schema_resource(name: str) -> str:
        return orjson.dumps(schema_for(name)).decode()

    @mcp.resource("distill://receipts/{receipt_id}", mime_type="application/json",
                  description="The receipt of one pipeline stage: inputs and outputs with sha256, counts, checks.")
    @resource_errors
    def receipt_resource(receipt_id: str, ctx: Context) -> str:
        return receipt_json(get_receipt(state(ctx).store, receipt_id)).decode()
