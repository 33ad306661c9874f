"""Adapters for the scrum / observer / mode-runner streams of the Lakehouse ``data/_kb`` (seed 2.9).

Verdict words are kept as the source writes them (``signals.verdict``); the scorer's TOML rules
interpret them. The outcome and decision streams are in :mod:`mcp_distill.adapters.lakehouse_scrum_outcomes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp_distill.adapters.base import Fields, as_int, as_text, register
from mcp_distill.adapters.lakehouse import LakehouseAdapter, Picker, commands, count, joined, kinds, validations


def _tag(prefix: str, value: Any) -> list[str]:
    return [f"{prefix}:{value}"] if isinstance(value, str | int) and value != "" else []


@register
class ModeExperiments(LakehouseAdapter):
    """Per-call mode runner telemetry: the cleanest prompt/response record of the loop."""

    stream = "mode_experiments"
    file_names = ("mode_experiments",)
    required_keys = frozenset({"ts", "task_class", "mode", "model"})
    signature_keys = frozenset({"latency_ms", "response", "response_chars", "sources"})
    priority = 30
    field_kinds = kinds({
        "ts": "time", "latency_ms": "num", "response_chars": "num", "prompt_tokens": "num",
        "completion_tokens": "num", "cost": "num", "sources": "list", "attempt": "int",
    })  # fmt: skip

    def fields(self, p: Picker) -> Fields:
        error = p.text("error")
        file_path = p.text("file_path", "file")
        return {
            "run_id": p.text("run_id"),
            "task_type": p.text("task_class", "task_type"),
            "timestamp": p.ts("ts"),
            "model_name": p.text("model"),
            "model_role": p.text("role", "model_role"),
            "file_path": file_path,
            "source_files": [file_path] if file_path else [],
            "retrieved_context": p.strs("sources"),
            "input_text": p.text("prompt", "input"),
            "output_text": p.text("response"),
            "latency_ms": p.num("latency_ms"),
            "cost_usd": p.num("cost", "cost_usd"),
            "tokens_in": p.integer("prompt_tokens", "tokens_in"),
            "tokens_out": p.integer("completion_tokens", "tokens_out"),
            "failure_markers": [f"call error: {error}"] if error else [],
            "signals": {"error_count": 1 if error else None},
            "tags": _tag("mode", p.row.get("mode")),
        }


@register
class ScrumReviews(LakehouseAdapter):
    """Per-file scrum review: attempts, accepted model, the review (markdown or forensic JSON)."""

    stream = "scrum_reviews"
    file_names = ("scrum_reviews",)
    required_keys = frozenset({"file", "reviewed_at"})
    signature_keys = frozenset({"accepted_model", "accepted_on_attempt", "attempts"})
    priority = 10
    field_kinds = kinds({
        "reviewed_at": "time", "file": "str", "accepted_on_attempt": "int", "duration_ms": "num",
        "review": "text", "findings": "list",
    })  # fmt: skip

    def fields(self, p: Picker) -> Fields:
        # attempts and findings stay in extra too: their structure (per-attempt model, finding line and
        # severity) is what preference mining and playbooks read; the markers and text are summaries.
        attempts = p.row.get("attempts")
        attempt_list = [a for a in attempts if isinstance(a, Mapping)] if isinstance(attempts, list) else []
        failures, successes = [], []
        for a in attempt_list:
            word = str(a.get("verdict") or "")
            label = f"attempt {a.get('attempt', '?')} ({a.get('model', '?')}) {word}"
            if word.lower() in ("accepted", "accept"):
                successes.append(label)
            else:
                failures.append(f"{label}: {a.get('reason')}" if a.get("reason") else label)
        findings = p.row.get("findings")
        finding_text = None
        if isinstance(findings, list):
            finding_text = joined(
                [
                    f"L{f.get('line', '?')} [{f.get('severity', '?')}] {f.get('issue', '')}"
                    + (f" Fix: {f['fix']}" if f.get("fix") else "")
                    if isinstance(f, Mapping)
                    else f
                    for f in findings
                ]
            )
        file_path = p.text("file")
        last_model = attempt_list[-1].get("model") if attempt_list else None
        return {
            "run_id": p.text("run_id"),
            "task_type": p.text("task_class", "task_type"),
            "timestamp": p.ts("reviewed_at"),
            "model_name": p.text("accepted_model") or as_text(last_model),
            "file_path": file_path,
            "source_files": [file_path] if file_path else [],
            "input_text": p.text("prompt"),
            "output_text": p.text("review"),
            "text": finding_text,
            "latency_ms": p.num("duration_ms"),
            "success_markers": successes,
            "failure_markers": failures,
            "signals": {
                "verdict": p.text("verdict"),
                "verdict_source": "scrum" if p.row.get("verdict") else None,
                "attempts": len(attempt_list) if attempt_list else as_int(attempts),
                "accepted_on_attempt": p.integer("accepted_on_attempt"),
            },
            "tags": _tag("mode", p.row.get("mode")),
        }


@register
class AutoApply(LakehouseAdapter):
    """Applier action per file: the five gates, the commands it ran, patches applied."""

    stream = "auto_apply"
    file_names = ("auto_apply",)
    required_keys = frozenset({"file", "ts", "action"})
    signature_keys = frozenset({"patches_applied", "gates", "commands"})
    priority = 30
    field_kinds = kinds({
        "ts": "time", "file": "str", "action": "str", "patches_applied": "int", "patches_total": "int",
        "gates": "obj", "commands": "list",
    })  # fmt: skip

    def fields(self, p: Picker) -> Fields:
        gates = validations(p("gates"))
        file_path = p.text("file")
        return {
            "run_id": p.text("run_id"),
            "timestamp": p.ts("ts"),
            "file_path": file_path,
            "source_files": [file_path] if file_path else [],
            "validation_results": gates,
            "commands_run": commands(p("commands")),
            "text": p.text("reason"),
            "success_markers": [f"gate {g['name']} passed" for g in gates if g["passed"]],
            "failure_markers": [f"gate {g['name']} failed" for g in gates if not g["passed"]],
            "signals": {"applier_action": p.text("action"), "patches_applied": p.integer("patches_applied")},
        }


@register
class ObserverReviews(LakehouseAdapter):
    """The observer's hand-review of one attempt: verdict word, confidence, notes."""

    stream = "observer_reviews"
    file_names = ("observer_reviews",)
    required_keys = frozenset({"verdict"})
    signature_keys = frozenset({"observer_model", "notes"})
    priority = 10
    field_kinds = kinds({"reviewed_at": "time", "ts": "time", "confidence": "conf", "verdict": "str", "attempt": "int"})

    def fields(self, p: Picker) -> Fields:
        file_path = p.text("file", "file_path")
        return {
            "run_id": p.text("run_id"),
            "task_type": p.text("task_class", "task_type"),
            "timestamp": p.ts("reviewed_at", "ts"),
            "model_name": p.text("model"),
            "file_path": file_path,
            "source_files": [file_path] if file_path else [],
            "observer_notes": p.text("notes"),
            "signals": {"verdict": p.text("verdict"), "verdict_source": "observer", "confidence": p.conf("confidence")},
            "tags": _tag("source", p.row.get("source")),
        }


@register
class ObserverEscalations(LakehouseAdapter):
    """Observer-diagnosed failure clusters: an analysis text over several files and models."""

    stream = "observer_escalations"
    file_names = ("observer_escalations",)
    required_keys = frozenset({"sig_hash", "cluster_size", "analysis"})
    priority = 40
    field_kinds = kinds({"ts": "time", "cluster_size": "int", "kb_preamble_chars": "num", "analysis": "text"})

    def fields(self, p: Picker) -> Fields:
        failure_class = p.text("failure_class")
        return {
            "task_type": p.text("task_class", "task_type"),
            "timestamp": p.ts("ts"),
            "text": p.text("analysis"),
            "source_files": p.strs("files"),
            "model_name": p.text("escalated_to"),
            "model_role": "escalation" if p.row.get("escalated_to") else None,
            "failure_markers": [failure_class] if failure_class else [],
            "tags": _tag("mode", p.row.get("mode")) + _tag("failure", failure_class),
        }


@register
class ModelTrust(LakehouseAdapter):
    """Per-run model trust ledger: accepted model, attempts made, average confidence, errors."""

    stream = "model_trust"
    file_names = ("model_trust",)
    required_keys = frozenset({"run_id", "attempts_made"})
    signature_keys = frozenset({"accepted_model", "confidence_avg", "thin_rejections"})
    priority = 10
    field_kinds = kinds({"ts": "time", "attempts_made": "int", "confidence_avg": "conf", "thin_rejections": "int"})

    def fields(self, p: Picker) -> Fields:
        errors = p("errors")
        thin = p.integer("thin_rejections")
        failures = [str(e) for e in errors] if isinstance(errors, list) else []
        if thin:
            failures.append(f"thin_rejections: {thin}")
        file_path = p.text("file", "file_path")
        return {
            "run_id": p.text("run_id"),
            "task_type": p.text("task_type", "task_class"),
            "timestamp": p.ts("ts", "created_at"),
            "model_name": p.text("accepted_model"),
            "file_path": file_path,
            "source_files": [file_path] if file_path else [],
            "failure_markers": failures,
            "signals": {
                "attempts": p.integer("attempts_made"),
                "confidence": p.conf("confidence_avg"),
                "error_count": count(errors),
            },
        }
