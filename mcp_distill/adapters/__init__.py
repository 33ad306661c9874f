"""Source adapters. Importing this package registers every adapter module below in ``base.REGISTRY``.

Keep this a plain list of imports: one line per adapter module. ``generic`` (any JSON object stream, with
inferred field roles) comes last: it only reads files no other adapter claims. After them, the names the
collector and the faces use: the registry and the ``Adapter`` base (``base``), document loading
(``documents``), mapping files (``mapping``) and mapping suggestions (``suggest``).
"""

from mcp_distill.adapters import (  # noqa: F401
    lakehouse_audit,
    lakehouse_distilled,
    lakehouse_scrum,
    lakehouse_scrum_outcomes,
    native,
    traces_aider,
    traces_claude,
    traces_codex,
    traces_openhands,
    traces_openhands_events,
    traces_otel,
    traces_swe,
    traces_swebench,
)

# isort: split
# Last, so it registers after every other adapter: the fallback for files nothing else claims.
from mcp_distill.adapters import generic  # noqa: F401

# isort: split
# The public names, after the registrations (importing them registers nothing).
from mcp_distill.adapters.base import REGISTRY, Adapter, TimestampError, canonical_hash, canonical_json, find_adapter
from mcp_distill.adapters.documents import DOCUMENT_MAX_BYTES, load_yaml
from mcp_distill.adapters.mapping import load_mappings
from mcp_distill.adapters.suggest import suggest_for_paths

__all__ = [
    "DOCUMENT_MAX_BYTES", "REGISTRY", "Adapter", "TimestampError", "canonical_hash", "canonical_json", "find_adapter",
    "load_mappings", "load_yaml", "suggest_for_paths",
]
