"""Dataset exports: RAG, SFT and preference JSONL that never leak a rejected run."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from mcp_distill.datasets import export_dataset as core_export
from mcp_distill.server.context import StateHolder, run_with_progress, state, tool_errors

__all__ = ["DEFAULT_EXPORT_DIR", "ExportResult", "register"]

DEFAULT_EXPORT_DIR = "exports"


class ExportResult(BaseModel):
    out_dir: str
    files: dict[str, Any] = Field(description="Each written file with its row count.")
    receipt_id: str = Field(description="Read it as distill://receipts/{receipt_id}.")
    validation: dict[str, Any] = Field(description="The validator's summary: ok, rows, checks, errors.")
    detail: dict[str, Any] = Field(default_factory=dict, description="Redaction, dedup and mining counts.")


def register(mcp: MCPServer, holder: StateHolder) -> None:
    @mcp.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True,
                                          openWorldHint=False))
    @tool_errors
    async def export_dataset(
        ctx: Context,
        kind: Annotated[Literal["rag", "sft", "preference", "all"], Field(
            description="sft: TRL messages from accepted runs only; preference: prompt/chosen/rejected pairs of "
                        "one task; rag: chunks of accepted evidence and playbooks; all: the three.")] = "all",
        out_dir: Annotated[str | None, Field(
            description="Folder inside the configured roots (default: exports/ in the first root).")] = None,
        format: Annotated[Literal["chunks", "beir"], Field(
            description="Layout of the RAG export: chunks (rag/chunks.jsonl) or beir (rag/corpus.jsonl with "
                        "_id/title/text, rag/queries.jsonl from accepted runs' tasks, rag/qrels/test.tsv).")] = "chunks",
    ) -> ExportResult:
        """Export training data. Secrets and e-mails are redacted, duplicates dropped, splits are by task hash,
        and a validator checks every row (accepted-only SFT, one-task pairs with different sides, provenance
        to an existing source line) before the files replace the previous export atomically."""
        app = state(ctx)
        target = app.settings.check_path(out_dir or app.settings.roots[0] / DEFAULT_EXPORT_DIR)
        result = await run_with_progress(ctx, core_export, app.store, kind=kind, out_dir=target,
                                         command="mcp:export_dataset", rag_format=format)
        return ExportResult.model_validate(_shape(result, target))


def _shape(result: dict[str, Any], target: Any) -> dict[str, Any]:
    known = {"files", "receipt_id", "validation", "out_dir"}
    return {"out_dir": str(result.get("out_dir", target)), "files": result.get("files", {}),
            "receipt_id": result["receipt_id"], "validation": result.get("validation", {}),
            "detail": {k: v for k, v in result.items() if k not in known}}
