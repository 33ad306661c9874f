"""Adapters for the outcome and decision streams of the Lakehouse ``data/_kb`` (seed 2.9): outcomes,
human overrides, overseer corrections, pathway recommendations, signatures and classifications. The
scrum / observer / mode-runner streams are in :mod:`mcp_distill.adapters.lakehouse_scrum`.

Only ``human_overrides`` translates its decision word, because ``HumanOverride`` needs one of the four
categories (an unknown word becomes ``needs_human_review``, never a guess).
"""

from __future__ import annotations

from typing import Any

from mcp_distill.adapters.base import Fields, as_text, register
from mcp_distill.adapters.lakehouse import LakehouseAdapter, Picker, kinds
from mcp_distill.adapters.lakehouse_scrum import _tag


@register
class Outcomes(LakehouseAdapter):
    """Per-run scenario outcomes: event counts, citations, gap signals."""

    stream = "outcomes"
    file_names = ("outcomes",)
    required_keys = frozenset({"run_id", "total_events", "ok_events"})
    signature_keys = frozenset({"total_citations", "total_gap_signals", "models"})
    priority = 10
    field_kinds = kinds({
        "created_at": "time", "total_events": "int", "ok_events": "int", "total_citations": "int",
        "total_gap_signals": "int", "duration_ms": "num", "models": "list",
    })  # fmt: skip

    def fields(self, p: Picker) -> Fields:
        total, ok = p.integer("total_events"), p.integer("ok_events")
        gaps, citations = p.integer("total_gap_signals"), p.integer("total_citations")
        models = p.row.get("models")
        checks = []
        if total is not None and ok is not None:
            checks.append({"name": "events_ok", "passed": ok >= total, "detail": f"{ok}/{total} events ok"})
        if gaps is not None:
            checks.append({"name": "no_gap_signals", "passed": gaps == 0, "detail": f"{gaps} gap signal(s)"})
        scenario = p.text("scenario", "file")
        return {
            "run_id": p.text("run_id"),
            "task_type": p.text("task_class", "task_type"),
            "timestamp": p.ts("created_at", "ts"),
            # One model: it is the run's model; several stay in extra.models for the ledger to read.
            "model_name": models[0] if isinstance(models, list) and len(models) == 1 else None,
            "file_path": scenario,
            "source_files": [scenario] if scenario else [],
            "validation_results": checks,
            "latency_ms": p.num("duration_ms"),
            "success_markers": [f"citations: {citations}"] if citations else [],
            "failure_markers": [f"gap_signals: {gaps}"] if gaps else [],
            "signals": {"error_count": max(total - ok, 0) if total is not None and ok is not None else None},
        }


#: Decision words of human_overrides, by the category they mean (compared lower-case).
DECISIONS: dict[str, str] = {
    **dict.fromkeys(("approve", "approved", "accept", "accepted", "ok", "lgtm", "pass", "ship", "keep"), "accepted"),
    **dict.fromkeys(
        ("partial", "partially_accepted", "partial_accept", "partially_approved", "mixed", "keep_some"),
        "partially_accepted",
    ),
    **dict.fromkeys(
        ("reject", "rejected", "revert", "reverted", "deny", "denied", "block", "fail", "drop"), "rejected"
    ),
    **dict.fromkeys(
        ("escalate", "needs_review", "needs_human_review", "unsure", "defer", "hold"), "needs_human_review"
    ),
}


def decision_category(word: Any) -> str:
    """The category a decision word means; an unknown word is ``needs_human_review``, not a guess."""
    return DECISIONS.get(str(word).strip().lower().replace(" ", "_").replace("-", "_"), "needs_human_review")


@register
class HumanOverrides(LakehouseAdapter):
    """A person's decision on a run (scrum run by run_id, or PR audit by pr_number + head_sha)."""

    stream = "human_overrides"
    file_names = ("human_overrides",)
    required_keys = frozenset({"decision"})
    signature_keys = frozenset({"reviewer", "decided_at", "previous_verdict"})
    priority = 10
    field_kinds = kinds({"decided_at": "time", "ts": "time", "decision": "str", "pr_number": "int"})

    def fields(self, p: Picker) -> Fields:
        word = p.text("decision")
        decided_at = p.ts("decided_at", "ts")
        reason = p.text("reason") or f"human decision: {word}"
        file_path = p.text("file", "file_path")
        return {
            "run_id": p.text("run_id"),
            "timestamp": decided_at,
            "file_path": file_path,
            "source_files": [file_path] if file_path else [],
            "pr_number": p.integer("pr_number"),
            "head_sha": p.text("head_sha"),
            "human_override": {
                "category": decision_category(word),
                "reason": reason,
                "reviewer": p.text("reviewer"),
                "decided_at": decided_at,
            },
            "signals": {"verdict": word, "verdict_source": "human"},
            "tags": _tag("source", p.row.get("source")),
        }


@register
class OverseerCorrections(LakehouseAdapter):
    """An overseer model's correction of another model's output (original -> corrected)."""

    stream = "overseer_corrections"
    file_names = ("overseer_corrections",)
    required_keys = frozenset({"corrected"})
    signature_keys = frozenset({"overseer_model", "original"})
    priority = 30
    field_kinds = kinds({"ts": "time", "corrected": "text", "original": "text"})

    def fields(self, p: Picker) -> Fields:
        kind = p.text("correction_kind")
        file_path = p.text("file", "file_path")
        return {
            "run_id": p.text("run_id"),
            "task_type": p.text("task_class", "task_type"),
            "timestamp": p.ts("ts"),
            "model_name": p.text("overseer_model"),
            "model_role": "overseer",
            "file_path": file_path,
            "source_files": [file_path] if file_path else [],
            # What the overseer was given, and what it wrote instead.
            "input_text": p.text("original"),
            "output_text": p.text("corrected"),
            "text": p.text("note"),
            "failure_markers": [f"corrected: {kind}"] if kind else [],
            "signals": {"verdict": p.text("verdict"), "verdict_source": "overseer" if p.row.get("verdict") else None},
            "tags": _tag("correction", kind),
        }


@register
class PathwayRecommendations(LakehouseAdapter):
    """Pathway memory hot-swap recommendations, per run."""

    stream = "pathway_recommendations"
    file_names = ("pathway_recommendations",)
    required_keys = frozenset({"run_id"})
    signature_keys = frozenset({"recommended_mode", "pathway_id", "replay_rate"})
    priority = 10
    field_kinds = kinds({"ts": "time", "replay_rate": "conf", "traces": "int", "confidence": "conf"})

    def fields(self, p: Picker) -> Fields:
        file_path = p.text("file", "file_path")
        return {
            "run_id": p.text("run_id"),
            "task_type": p.text("task_class", "task_type"),
            "timestamp": p.ts("ts", "created_at"),
            "file_path": file_path,
            "source_files": [file_path] if file_path else [],
            "text": p.text("reason"),
            "tags": _tag("recommended_mode", p.row.get("recommended_mode")),
        }


@register
class Signatures(LakehouseAdapter):
    """Run signatures for dedup and grouping: the fingerprint of a recurring problem."""

    stream = "signatures"
    file_names = ("signatures",)
    required_keys = frozenset({"sig_hash", "fingerprint"})
    priority = 30
    field_kinds = kinds({"created_at": "time", "seen": "int"})

    def fields(self, p: Picker) -> Fields:
        file_path = p.text("file", "file_path")
        return {
            "run_id": p.text("run_id"),
            "task_type": p.text("task_class", "task_type"),
            "timestamp": p.ts("created_at", "ts"),
            "model_name": p.text("model"),
            "file_path": file_path,
            "source_files": [file_path] if file_path else [],
            "text": p.text("fingerprint"),
            "tags": _tag("kind", p.row.get("kind")),
        }


@register
class Classifications(LakehouseAdapter):
    """Task-type classifications: the input excerpt and the class the classifier gave it."""

    stream = "classifications"
    file_names = ("classifications",)
    required_keys = frozenset({"task_class", "classifier"})
    priority = 30
    field_kinds = kinds({"ts": "time", "confidence": "conf", "labels": "list"})

    def fields(self, p: Picker) -> Fields:
        file_path = p.text("file", "file_path")
        return {
            "run_id": p.text("run_id"),
            "task_type": p.text("task_class"),
            "timestamp": p.ts("ts", "created_at"),
            "model_name": p.text("classifier"),
            "model_role": "classifier",
            "file_path": file_path,
            "source_files": [file_path] if file_path else [],
            "input_text": p.text("input"),
            "output_text": as_text(p.row.get("task_class")),
            "tags": [f"label:{label}" for label in p.strs("labels")],
        }
