"""Adapters for the PR auditor and drift streams of the Lakehouse ``data/_kb`` (seed 2.9).

PR streams are joined by ``pr_number`` + ``head_sha``: one audit of one head is one run, and its
facts, lessons and consensus splits attach to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp_distill.adapters.base import Fields, as_text, register
from mcp_distill.adapters.lakehouse import LakehouseAdapter, Picker, joined, kinds, validations

_PR_KINDS = kinds({"pr_number": "int", "head_sha": "str"})


def _pr_task(pr: int | None) -> str | None:
    return f"PR#{pr}" if pr is not None else None


@register
class Audits(LakehouseAdapter):
    """The full per-PR verdict: claims, checks (static, dynamic, inference, kb_query), severity."""

    stream = "audits"
    file_names = ("audits",)
    required_keys = frozenset({"pr_number", "head_sha"})
    signature_keys = frozenset({"audited_at", "claims", "checks"})
    priority = 20
    field_kinds = kinds({
        **_PR_KINDS, "audited_at": "time", "duration_ms": "num", "cost": "num", "claims": "list",
        "checks": "obj", "files_changed": "list",
    })  # fmt: skip

    def fields(self, p: Picker) -> Fields:
        pr = p.integer("pr_number")
        successes, failures = [], []
        claims = p.row.get("claims")  # summarised as markers, kept whole in extra
        for claim in claims if isinstance(claims, list) else []:
            if not isinstance(claim, Mapping):
                continue
            label = f"claim {claim.get('idx', '?')} {claim.get('status', '?')}: {claim.get('text', '')}"
            (successes if str(claim.get("status")).lower() == "verified" else failures).append(label)
        return {
            "task_type": p.text("task_class") or "pr_audit",
            "task_id": _pr_task(pr),
            "pr_number": pr,
            "head_sha": p.text("head_sha"),
            "timestamp": p.ts("audited_at"),
            "model_name": p.text("model"),
            "model_role": "auditor" if p.row.get("model") else None,
            "input_text": p.text("prompt"),
            "output_text": p.text("summary"),
            "source_files": p.strs("files_changed"),
            "validation_results": validations(p("checks")),
            "success_markers": successes,
            "failure_markers": failures,
            "latency_ms": p.num("duration_ms"),
            "cost_usd": p.num("cost"),
            "signals": {
                "verdict": p.text("verdict"),
                "verdict_source": "auditor",
                "severity": p.text("severity"),
            },
            "tags": [t for t in (p.text("repo"),) if t],
        }


@register
class AuditFacts(LakehouseAdapter):
    """Facts, entities and relationships the auditor's inference extracted from a PR."""

    stream = "audit_facts"
    file_names = ("audit_facts",)
    required_keys = frozenset({"pr_number", "head_sha"})
    signature_keys = frozenset({"fact", "facts", "entities", "relationships", "extractor"})
    priority = 30
    field_kinds = kinds({**_PR_KINDS, "extracted_at": "time", "confidence": "conf", "verified": "bool"})

    def fields(self, p: Picker) -> Fields:
        pr = p.integer("pr_number")
        # verified / verifier stay in extra: whether one extracted fact held up says little about
        # whether the PR's audit succeeded, so it must not vote on the PR run.
        return {
            "task_type": "pr_audit",
            "task_id": _pr_task(pr),
            "pr_number": pr,
            "head_sha": p.text("head_sha"),
            "timestamp": p.ts("extracted_at", "ts"),
            "model_name": p.text("extractor"),
            "model_role": "extractor" if p.row.get("extractor") else None,
            "text": joined(p("fact", "facts")),
            "tags": [f"entity:{e}" for e in (p.row.get("entities") or []) if isinstance(e, str)],
        }


@register
class AuditLessons(LakehouseAdapter):
    """Lessons derived from past audits (shape close to audit_facts)."""

    stream = "audit_lessons"
    file_names = ("audit_lessons",)
    required_keys = frozenset({"lesson"})
    signature_keys = frozenset({"pr_number", "derived_at", "recurrence"})
    priority = 25
    field_kinds = kinds({"pr_number": "int", "derived_at": "time", "recurrence": "int", "applies_to": "list"})

    def fields(self, p: Picker) -> Fields:
        pr = p.integer("pr_number")
        return {
            "task_type": "pr_audit",
            "task_id": _pr_task(pr),
            "pr_number": pr,
            "head_sha": p.text("head_sha"),
            "timestamp": p.ts("derived_at", "extracted_at", "ts"),
            "model_name": p.text("extractor"),
            "model_role": "extractor" if p.row.get("extractor") else None,
            "text": p.text("lesson"),
            "source_files": p.strs("applies_to"),
            "tags": [f"category:{p.row['category']}"] if p.row.get("category") else [],
        }


#: Vote words that hold a claim true; every other vote word counts against it.
CLAIM_TRUE = frozenset({"verified", "true", "yes", "supported", "confirmed", "pass", "accept", "accepted"})


def _vote_word(vote: Any) -> str | None:
    if isinstance(vote, Mapping):
        return as_text(vote.get("verdict") or vote.get("vote"))
    return as_text(vote)


@register
class AuditDiscrepancies(LakehouseAdapter):
    """N=3 consensus splits on one claim: the votes, the resolution, chosen and rejected rationales."""

    stream = "audit_discrepancies"
    file_names = ("audit_discrepancies",)
    required_keys = frozenset({"pr_number", "head_sha", "claim_idx"})
    signature_keys = frozenset({"votes", "resolution"})
    priority = 20
    field_kinds = kinds({**_PR_KINDS, "claim_idx": "int", "ts": "time", "votes": "list"})

    def fields(self, p: Picker) -> Fields:
        pr = p.integer("pr_number")
        resolution = p.text("resolution")
        votes = p.row.get("votes")
        words = [_vote_word(v) for v in votes] if isinstance(votes, list) else []
        # The scorer reads votes_for / votes_against as the share of voters holding the claim true.
        votes_for = sum(1 for w in words if w and w.lower() in CLAIM_TRUE) if words else None
        votes_against = len(words) - votes_for if votes_for is not None else None
        return {
            "task_type": "pr_audit",
            "task_id": f"PR#{pr}/claim{p.row.get('claim_idx')}" if pr is not None else None,
            "pr_number": pr,
            "head_sha": p.text("head_sha"),
            "timestamp": p.ts("ts", "created_at"),
            "input_text": p.text("claim"),
            # The rationale the consensus chose; the losing one stays in extra.rejected.
            "output_text": p.text("chosen"),
            "signals": {
                "verdict": resolution,
                "verdict_source": "consensus",
                "votes_for": votes_for,
                "votes_against": votes_against,
            },
        }


@register
class PhaseSweepFindings(LakehouseAdapter):
    """Phase-audit drift findings: claims verified / fake / partial per PRD phase."""

    stream = "phase_sweep_findings"
    file_names = ("phase_sweep_findings",)
    required_keys = frozenset({"phase", "status"})
    signature_keys = frozenset({"claims_verified", "claims_fake", "claims_partial", "findings"})
    priority = 40
    field_kinds = kinds({
        "discovered_at": "time", "claims_verified": "int", "claims_fake": "int", "claims_partial": "int",
        "evidence": "list",
    })  # fmt: skip

    def fields(self, p: Picker) -> Fields:
        phase = p.row.get("phase")
        evidence = p.row.get("evidence")
        checks, files = [], []
        for item in evidence if isinstance(evidence, list) else []:
            if isinstance(item, Mapping) and isinstance(item.get("found"), bool):
                checks.append({"name": str(item.get("claim", "claim")), "passed": item["found"],
                               "detail": as_text(item.get("file"))})  # fmt: skip
            if isinstance(item, Mapping) and item.get("file"):
                files.append(str(item["file"]))
        counts = {k: p.row.get(f"claims_{k}") for k in ("verified", "fake", "partial")}
        return {
            "task_type": "phase_sweep",
            "task_id": f"phase:{phase}" if phase is not None else None,
            "timestamp": p.ts("discovered_at", "ts"),
            "model_name": p.text("sweeper_model", "model"),
            "text": joined(p("findings")),
            "source_files": files,
            "validation_results": checks,
            "success_markers": [f"claims_verified: {counts['verified']}"] if counts["verified"] else [],
            "failure_markers": [f"claims_{k}: {v}" for k, v in counts.items() if k != "verified" and v],
            "signals": {"verdict": p.text("status"), "verdict_source": "phase_sweep"},
            "tags": [f"phase:{phase}"] if phase is not None else [],
        }


@register
class DocDriftCorrections(LakehouseAdapter):
    """Doc drift signals: a doc claim, what the repo really has, and the correction."""

    stream = "doc_drift_corrections"
    file_names = ("doc_drift_corrections",)
    required_keys = frozenset({"doc", "correction"})
    priority = 40
    field_kinds = kinds({"ts": "time", "doc": "str"})

    def fields(self, p: Picker) -> Fields:
        parts = [f"{label}: {p.row[key]}" for key, label in (("claim", "Claim"), ("actual", "Actual"))
                 if p.row.get(key)]  # fmt: skip
        parts.append(f"Correction: {p.text('correction')}")
        doc = p.text("doc")
        return {
            "task_type": "doc_drift",
            "timestamp": p.ts("ts", "created_at"),
            "file_path": doc,
            "source_files": [doc, *p.strs("files")] if doc else p.strs("files"),
            "text": "\n".join(parts),
            "signals": {"severity": p.text("severity")},
            "tags": [f"section:{p.row['section']}"] if p.row.get("section") else [],
        }
