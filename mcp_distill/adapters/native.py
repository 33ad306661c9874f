"""Rows already in the unified EvidenceRecord shape: what agents push live, or a producer writes natively."""

from __future__ import annotations

from typing import ClassVar

from mcp_distill.adapters.base import Adapter, Fields, Row, register

#: Fields the collector sets itself; a native row may not bring its own.
_COLLECTOR_FIELDS = {"record_id", "provenance", "schema_version"}


@register
class NativeEvidenceAdapter(Adapter):
    stream = "evidence"
    file_names: ClassVar[tuple[str, ...]] = ("evidence", "live_evidence")
    priority = 5

    def matches_content(self, sample: Row) -> bool:
        return sample.get("schema") == "mcp-distill/evidence"

    def check(self, row: Row) -> str | None:
        if not isinstance(row.get("stream", "evidence"), str):
            return "evidence: field 'stream' must be a string"
        return None

    def map(self, row: Row) -> Fields:
        return {k: v for k, v in row.items() if k not in _COLLECTOR_FIELDS and k != "schema"}
