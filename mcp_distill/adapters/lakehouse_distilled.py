"""Adapters for the two EvidenceRecord prototypes of the seed (section 3): the LLM Team
``distilled_*`` streams and ``contract_analyses``.

The three ``distilled_*`` streams share one shape, so content recognition tells them apart by their
``category`` / ``source_label`` word (procedures and config hints first; facts take the rest).
The pre-computed ``embedding`` stays in ``extra``: vectors of another model are never mixed into the
index, which re-embeds with its own model.
"""

from __future__ import annotations

from typing import ClassVar

from mcp_distill.adapters.base import Fields, Row, register
from mcp_distill.adapters.lakehouse import LakehouseAdapter, Picker, kinds, validations

_DISTILLED_KINDS = kinds({"created_at": "time", "embedding": "list", "embed_dim": "int", "text": "text"})


class _Distilled(LakehouseAdapter):
    required_keys = frozenset({"run_id", "text"})
    signature_keys = frozenset({"extractor", "categorizer", "embedding", "source_label"})
    priority = 10
    field_kinds = _DISTILLED_KINDS
    #: Words in category / source_label that mark this stream (empty: any; used as the fallback).
    markers: ClassVar[tuple[str, ...]] = ()

    def matches_content(self, sample: Row) -> bool:
        if not super().matches_content(sample):
            return False
        if not self.markers:
            return True
        label = f"{sample.get('category', '')} {sample.get('source_label', '')} {sample.get('kind', '')}".lower()
        return any(m in label for m in self.markers)

    def fields(self, p: Picker) -> Fields:
        category = p.text("category")
        return {
            "run_id": p.text("run_id"),
            "task_type": p.text("task_type", "task_class"),
            "timestamp": p.ts("created_at", "ts"),
            "model_name": p.text("extractor"),
            "model_role": "extractor" if p.row.get("extractor") else None,
            "text": p.text("text"),
            "tags": [t for t in (f"category:{category}" if category else None,
                                 f"source:{p.row['source_label']}" if p.row.get("source_label") else None) if t],
        }  # fmt: skip


@register
class DistilledProcedures(_Distilled):
    stream = "distilled_procedures"
    file_names = ("distilled_procedures",)
    markers = ("procedur", "how_to", "howto", "steps")


@register
class DistilledConfigHints(_Distilled):
    stream = "distilled_config_hints"
    file_names = ("distilled_config_hints",)
    markers = ("config",)


@register
class DistilledFacts(_Distilled):
    stream = "distilled_facts"
    file_names = ("distilled_facts",)
    priority = 12  # after the two above: the distilled shape with no other marker is a fact


@register
class ContractAnalyses(LakehouseAdapter):
    """Contract (permit) analysis runs: observer verdict + retrieval telemetry + cost per call."""

    stream = "contract_analyses"
    file_names = ("contract_analyses",)
    required_keys = frozenset({"ts", "analysis"})
    signature_keys = frozenset({"permit_id", "matrix_corpora", "observer_verdict"})
    priority = 40
    field_kinds = kinds({
        "ts": "time", "ok": "bool", "analysis": "text", "matrix_corpora": "list", "matrix_hits": "num",
        "matrix_ms": "num", "observer_conf": "conf", "cost": "num", "duration_ms": "num",
    })  # fmt: skip

    def fields(self, p: Picker) -> Fields:
        ok = p.row.get("ok")
        verdict = p.text("observer_verdict")
        error = p.text("error")
        return {
            "run_id": p.text("run_id"),
            "task_type": p.text("task_type", "task_class") or "contract_analysis",
            "task_id": p.text("permit_id"),
            "timestamp": p.ts("ts"),
            "model_name": p.text("model"),
            "input_text": p.text("prompt"),
            "output_text": p.text("analysis"),
            "retrieved_context": p.strs("matrix_corpora"),
            "observer_notes": p.text("observer_notes"),
            "validation_results": validations({"ok": ok}) if isinstance(ok, bool) else [],
            "failure_markers": [f"error: {error}"] if error else [],
            "latency_ms": p.num("duration_ms"),
            "cost_usd": p.num("cost"),
            "signals": {
                "verdict": verdict,
                # observer_src names the observer instance; it stays in extra.
                "verdict_source": "observer" if verdict else None,
                "confidence": p.conf("observer_conf"),
            },
        }
