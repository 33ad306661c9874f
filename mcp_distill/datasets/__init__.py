"""Dataset Builder: SFT, preference and RAG exports, mining, near-duplicates, validation.

The faces (CLI, MCP tools, dashboard, pipeline) use the names below; the modules behind them:
``build`` (one export) reads the store through ``passes``, mines rows with ``mine``, ``sft``,
``preference`` and ``rag``, redacts (``scrubber``, ``publish``), dedups (``dedup``, ``neardup``),
writes (``io``, ``beir``) and checks (``validate``, ``checks``, ``lookups``); ``browse`` reads past
exports back for the dashboard.
"""

from mcp_distill.datasets.browse import export_rows_for_run, export_summaries
from mcp_distill.datasets.build import DEFAULT_OUT_DIR, KINDS, RAG_FORMATS, export_dataset
from mcp_distill.datasets.validate import ValidationReport, validate_export

__all__ = ["DEFAULT_OUT_DIR", "KINDS", "RAG_FORMATS", "ValidationReport", "export_dataset", "export_rows_for_run",
           "export_summaries", "validate_export"]
