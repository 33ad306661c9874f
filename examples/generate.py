#!/usr/bin/env python3
"""Deterministic generator of the example Lakehouse knowledge base (``examples/lakehouse_kb``).

It writes all 22 ``data/_kb`` streams of the seed (section 2.9) in their field shapes, for a
simulated fortnight of the Lakehouse loops:

* scrum runs over Rust/TS files: mode runner calls (one per attempt), scrum review, applier,
  observer review, model trust, signature, classification, sometimes overseer corrections, pathway
  recommendations, distilled facts/procedures/config hints and a human override;
* staffing scenario runs (outcomes, model trust, observer review, mode runner calls);
* PR audits (audits, audit_facts, audit_lessons, audit_discrepancies), contract analyses, phase
  sweeps, doc drift corrections and observer escalations.

Malformed lines and fake secrets are planted on purpose; docs/streams.md lists them and the run ids
of each case. ``--manifest`` prints the intended category of every run as JSON.

    python examples/generate.py [--out DIR] [--runs N] [--manifest]

Same arguments, same bytes: one fixed seed, no clock, no set iteration. This file holds the
generation logic; the static texts (files, patterns, prompts, PRs, plans) are in catalogue.py and
catalogue_loops.py next to it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import string
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SEED = 19814
BASE = datetime(2026, 4, 12, 6, 0, tzinfo=UTC)
OUT = Path(__file__).resolve().parent / "lakehouse_kb"
ALNUM = string.ascii_letters + string.digits

# Run as a script (python examples/generate.py) or loaded by path in the tests: examples/ is no package, so
# the catalogue is found through sys.path. The import list stays compact (I001) to keep this file short.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalogue import BRANCH, CLASSIFIER, EXTRACTOR, FILES, PATTERNS, REVIEWERS, STRONG, USD_PER_1K, VERIFIER, WEAK  # noqa: E402, I001
from catalogue_loops import (  # noqa: E402
    APPLY_STEPS, AUDIT_OVERRIDE, AUDIT_PLAN, AUDIT_PROMPT, AUDIT_VERDICT, CLAIM_EVIDENCE, CONTRACT_ERROR, CONTRACT_PLAN,
    CONTRACT_PROMPT, CONTRACT_SOURCE, CONTRACT_STREETS, CONTRACT_TEXTS, CONTRACT_WORKS, DOC_DRIFTS, ESCALATIONS,
    FAILED_TAIL, INTENDED, LESSON_CATEGORY, LESSONS, OBSERVER_SCRUM, PHASES, PLAN, PLANTED_CONTRACT_LINE, PRS, PUSH_CMD,
    QUALITY_CONF, REJECT_REASON, REVIEWS, SCENARIO_FACT, SCENARIO_OBSERVER, SCENARIO_OVERRIDE, SCENARIO_PLAN,
    SCENARIO_PROMPT, SCENARIOS, SCRUM_OVERRIDES, SCRUM_PROMPT, STREAMS, VOTE_RATIONALES, VOTE_SPLITS, VOTERS,
    good_review,
)


def iso(dt: datetime) -> str:
    """JavaScript's toISOString(): what the Bun loops write."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def sha(text: str, n: int = 64) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


# --- the simulated loops -------------------------------------------------------------------------


class KB:
    """Rows per stream with their sort time; malformed lines are planted at write time."""

    def __init__(self, runs: int) -> None:
        self.rng = random.Random(SEED)
        self.runs = runs
        self.rows: dict[str, list[tuple[float, int, dict[str, Any]]]] = {}
        self.manifest: dict[str, dict[str, Any]] = {}
        self.seq = 0
        self.fingerprints: dict[str, int] = {}
        self.lesson_counts: dict[str, int] = {}
        self.overrides = 0
        # Fake, realistic-looking secrets for the redaction tests downstream.
        self.api_key = "sk-proj-" + self.tok(40)
        self.gh_token = "ghp_" + self.tok(36)
        self.push_password = self.tok(14)
        self.db_password = self.tok(12)

    def tok(self, n: int) -> str:
        return "".join(self.rng.choice(ALNUM) for _ in range(n))

    def ms(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def add(self, stream: str, when: datetime, row: dict[str, Any]) -> None:
        self.seq += 1
        self.rows.setdefault(stream, []).append((when.timestamp(), self.seq, row))

    def build(self) -> None:
        for slot in range(self.runs):
            f = FILES[slot % len(FILES)]
            kind = PLAN[slot % len(PLAN)][(slot // len(PLAN)) % 3]
            when = BASE + timedelta(minutes=50 * slot + self.ms(0, 4), seconds=self.ms(0, 59))
            self.scrum_run(slot, f, kind, when)
        for k in range(max(1, self.runs // 4)):
            self.scenario_run(k, BASE + timedelta(minutes=25 + 200 * k, seconds=self.ms(0, 59)))
        for k in range(max(1, self.runs // 3)):
            self.audit_run(k, BASE + timedelta(minutes=40 + 150 * k, seconds=self.ms(0, 59)))
        for k in range(max(1, self.runs // 6)):
            self.contract_run(k, BASE + timedelta(minutes=70 + 300 * k, seconds=self.ms(0, 59)))
        self.sweeps_and_drift()
        self.escalations()

    # -- scrum runs ---------------------------------------------------------------------------

    def attempt_plan(self, kind: str, slot: int) -> list[tuple[str, str]]:
        """(model, quality) per attempt. Odd/even slots pick the two variants of a kind."""
        strong = STRONG[slot % 3]
        if kind == "accepted":
            return [(WEAK if slot % 2 else strong, "good")]
        if kind == "accepted_retry":
            return [(WEAK, "thin" if slot % 2 else "halluc"), (strong, "good")]
        if kind == "partial_late":
            return [(WEAK, "thin"), (STRONG[(slot + 1) % 3], "halluc"), (strong, "good")]
        if kind == "rejected":  # odd: every attempt rejected; even: a wrong fix the applier reverts
            return [(WEAK, "thin"), ("kimi-k2:1t", "error"), (strong, "halluc")] if slot % 2 else [
                (WEAK, "thin"), (strong, "wrong")]
        if kind == "conflicting" and slot % 2:
            return [(strong, "wrong")]
        return [(WEAK if kind == "override_to_rejected" else strong, "good")]

    def scrum_run(self, slot: int, f: dict, kind: str, when: datetime) -> None:
        pat = PATTERNS[f["pattern"]]
        run_id = f"scrum-19814-{slot + 1:03d}"
        mode = self.rng.choice(("codereview_lakehouse", "codereview_lakehouse", "codereview_matrix_only"))
        line = f["line"] + self.ms(-3, 3)
        ctx_ids = [f"lakehouse_arch_v1#c{self.ms(10, 400)}", f"lakehouse_symbols_v1#{f['fn']}",
                   f"lakehouse_answers_v1#a{self.ms(10, 200)}", f"pathway_memory#t{self.ms(1, 88)}"]  # fmt: skip
        ctx_texts = [pat["arch"], f"`{f['fn']}` is defined in {f['path']}", pat["answer"],
                     f"trace: {pat['title']}; fixed by: {pat['fix']}"]  # fmt: skip
        code = pat["code"][f["lang"]].format(fn=f["fn"], key=self.api_key, token=self.gh_token)
        context = "\n".join(f"- [{i}] {t}" for i, t in zip(ctx_ids, ctx_texts, strict=True))
        prompt = SCRUM_PROMPT.format(mode=mode, context=context, path=f["path"], shards=f["shards"], first=line - 6,
                                     last=line + 12, lang=f["lang"], code=code)  # fmt: skip
        attempts = self.attempt_plan(kind, slot)
        # A run with only rejected attempts has no accepted attempt; otherwise the last one was accepted.
        accepted_at = None if kind == "rejected" and slot % 2 else len(attempts)
        texts, errors = [], []
        self.classification(f, prompt, when - timedelta(seconds=57))
        for n, (model, quality) in enumerate(attempts, 1):
            at = when - timedelta(seconds=50 - 15 * (n - 1), milliseconds=self.ms(0, 900))
            text = REVIEWS[quality](f, pat, line, self.api_key)
            texts.append(text)
            p_tok, c_tok = len(prompt) // 4 + self.ms(0, 60), len(text) // 4
            row = {"ts": iso(at), "task_class": "codereview_lakehouse", "mode": mode, "model": model,
                   "role": "primary" if n == 1 else "escalation", "attempt": n, "file_path": f["path"],
                   "sources": ctx_ids, "matrix_hits": self.ms(6, 12), "prompt": prompt, "response": text,
                   "response_chars": len(text), "prompt_tokens": p_tok, "completion_tokens": c_tok,
                   "latency_ms": self.ms(6000, 14000) if quality != "error" else self.ms(300, 900),
                   "cost": round((p_tok + c_tok) / 1000 * USD_PER_1K[model], 5)}  # fmt: skip
            if quality == "error":
                row["error"] = f"upstream 500 from ollama cloud ({model}): internal server error"
                errors.append(row["error"])
            self.add("mode_experiments", at, row)
        final = (accepted_at or len(attempts)) - 1
        final_model = attempts[final][0]
        self.scrum_review(run_id, f, pat, kind, mode, when, prompt, attempts, accepted_at, texts[final], line, slot)
        self.auto_apply(run_id, f, kind, when + timedelta(seconds=self.ms(8, 35)), slot)
        self.observer_review(run_id, f, kind, slot, when + timedelta(seconds=self.ms(10, 45)), final_model,
                             final + 1, pat)  # fmt: skip
        confs = [QUALITY_CONF[q] for _, q in attempts]
        self.add("model_trust", when + timedelta(seconds=52), {
            "run_id": run_id, "ts": iso(when + timedelta(seconds=52)), "task_type": "codereview_lakehouse",
            "file": f["path"], "accepted_model": final_model if accepted_at else None,
            "models_tried": [m for m, _ in attempts], "attempts_made": len(attempts),
            "confidence_avg": round(sum(confs) / len(confs), 3), "errors": errors or 0,
            "thin_rejections": sum(1 for _, q in attempts if q == "thin")})  # fmt: skip
        fp = f"codereview_lakehouse|{f['pattern']}|{f['path'].rsplit('/', 1)[-1]}"
        self.fingerprints[fp] = self.fingerprints.get(fp, 0) + 1
        self.add("signatures", when + timedelta(seconds=2), {
            "sig_hash": sha(f"{run_id}|{fp}", 16), "created_at": iso(when + timedelta(seconds=2)),
            "kind": "scrum_review", "task_class": "codereview_lakehouse", "file": f["path"], "model": final_model,
            "fingerprint": fp, "tokens": [f["pattern"], f["lang"], pat["area"]], "seen": self.fingerprints[fp]})
        for n, (model, quality) in enumerate(attempts, 1):
            if quality == "halluc" or (quality == "thin" and slot % 3 == 0):
                self.overseer(f, pat, model, quality, texts[n - 1], when + timedelta(seconds=20 + 7 * n))
        if slot % 3 == 0:
            self.pathway(run_id, f, mode, when + timedelta(seconds=55), final_model, kind)
        self.distilled(run_id, f, pat, kind, when)
        self.override(run_id, f, kind, when)
        self.manifest[run_id] = {"family": "scrum", "kind": kind, "intended": INTENDED[kind], "file": f["path"],
                                 "pattern": f["pattern"], "reviewed_at": iso(when),
                                 "attempts": [f"{m}:{q}" for m, q in attempts]}  # fmt: skip

    def classification(self, f: dict, prompt: str, at: datetime) -> None:
        self.add("classifications", at, {
            "ts": iso(at), "file": f["path"], "input": prompt.split("\n\nContext", 1)[0],
            "task_class": "codereview_lakehouse", "classifier": CLASSIFIER,
            "confidence": round(self.rng.uniform(0.82, 0.98), 2),
            "labels": [f["lang"], PATTERNS[f["pattern"]]["area"]], "taxonomy_version": "v3"})

    def scrum_review(self, run_id: str, f: dict, pat: dict, kind: str, mode: str, when: datetime, prompt: str,
                     attempts: list, accepted_at: int | None, final_text: str, line: int, slot: int) -> None:
        tries = []
        for n, (model, quality) in enumerate(attempts, 1):
            verdict = "accepted" if n == accepted_at else ("error" if quality == "error" else "rejected")
            reason = None if verdict == "accepted" else REJECT_REASON[quality].format(ghost=pat["ghost"])
            tries.append({"attempt": n, "model": model, "verdict": verdict, "reason": reason,
                          "response_chars": len(REVIEWS[quality](f, pat, line, self.api_key))})  # fmt: skip
        verdict = "accept"
        if kind == "rejected":
            verdict = "needs_work" if accepted_at else "reject"
        elif kind == "override_to_accepted":
            verdict = "needs_work"
        severity = "warn" if kind in ("partial", "partial_late") else "block"
        findings = [{"line": line, "severity": severity, "issue": pat["issue"].format(fn=f["fn"]), "fix": pat["fix"]}]
        if kind in ("partial", "partial_late"):
            findings.append({"line": line + 31, "severity": "warn", "issue": pat["second"], "fix": None})
        review: Any = final_text
        if slot % 5 == 2:  # the forensic JSON form some scrum versions write
            patch = final_text.split("```diff\n", 1)[1].split("```", 1)[0] if "```diff" in final_text else None
            review = {"file": f["path"], "verdict": verdict, "findings": findings, "patch": patch,
                      "tree_split_shards": f["shards"]}  # fmt: skip
        self.add("scrum_reviews", when, {
            "run_id": run_id, "file": f["path"], "reviewed_at": iso(when), "task_class": "codereview_lakehouse",
            "mode": mode, "branch": BRANCH, "attempts": tries,
            "accepted_model": attempts[accepted_at - 1][0] if accepted_at else None,
            "accepted_on_attempt": accepted_at, "verdict": verdict, "findings": findings, "prompt": prompt,
            "review": review, "shards": f["shards"], "duration_ms": 50000 + self.ms(0, 9000)})

    def auto_apply(self, run_id: str, f: dict, kind: str, at: datetime, slot: int) -> None:
        rust, crate = f["lang"] == "rust", f["crate"]
        steps = [(name, cmd.format(run_id=run_id, crate=crate, path=f["path"])) for name, cmd in APPLY_STEPS[f["lang"]]]
        failing = (kind in ("override_to_accepted", "override_conflict_partial")
                   or (kind == "rejected" and not slot % 2) or (kind == "conflicting" and not slot % 2))
        partial = kind in ("partial", "partial_late")
        total = 4 if partial else self.ms(1, 3)
        gates: dict[str, bool] = {}
        cmds: list[dict[str, Any]] = []
        if kind == "rejected" and slot % 2:
            action, applied, reason = "skipped", 0, "no accepted attempt: nothing to apply"
        else:
            for name, cmd in steps:
                # the failing gate: tests for a broken patch, the diff budget for a partly applied one
                ok = not ((failing and name == "tests") or (partial and name == "diff_budget"))
                gates[name] = ok
                tail = None
                if not ok:
                    tail = FAILED_TAIL[f["lang"]].format(test=f["test"], path=f["path"], line=f["line"] + 4)
                cmds.append({"cmd": cmd, "exit": 0 if ok else (101 if rust else 1), "tail": tail})
            if failing:
                action, applied, reason = "reverted", 0, f"tests red after apply ({f['test']}); patch reverted"
            elif partial:
                applied = 2 if kind == "partial" else 1
                action, reason = "partial", f"{total - applied} hunk(s) exceed the diff budget; applied {applied}"
            else:
                action, applied, reason = "applied", total, None
                if slot % 7 == 3:  # the push step logs its remote URL, credentials included
                    cmds.append({"cmd": PUSH_CMD.format(password=self.push_password, branch=BRANCH), "exit": 0,
                                 "tail": None})  # fmt: skip
        self.add("auto_apply", at, {
            "file": f["path"], "ts": int(at.timestamp() * 1000), "action": action, "patches_applied": applied,
            "patches_total": total, "gates": gates, "commands": cmds, "branch": BRANCH,
            "commit": sha(f"{run_id}|commit", 7) if action in ("applied", "partial") else None, "reason": reason})

    def observer_review(self, run_id: str, f: dict, kind: str, slot: int, at: datetime, model: str, attempt: int,
                        pat: dict) -> None:
        verdict, conf, notes = OBSERVER_SCRUM["conflicting_odd" if kind == "conflicting" and slot % 2 else kind]
        notes = notes.format(line=f["line"], title=pat["title"])
        self.add("observer_reviews", at, {
            "run_id": run_id, "file": f["path"], "reviewed_at": iso(at), "source": "scrum", "attempt": attempt,
            "model": model, "observer_model": self.rng.choice(("kimi-k2:1t", "gpt-oss:120b")), "verdict": verdict,
            "confidence": round(conf + self.rng.uniform(-0.03, 0.03), 2), "notes": notes,
            "kb_preamble_chars": self.ms(3000, 6000)})

    def overseer(self, f: dict, pat: dict, model: str, quality: str, text: str, at: datetime) -> None:
        corrected = good_review(f, pat, f["line"], self.api_key).split("\n\n**Tests", 1)[0]
        what = f"invented `{pat['ghost']}`" if quality == "halluc" else "gave no line references"
        self.add("overseer_corrections", at, {
            "ts": iso(at), "file": f["path"], "task_class": "codereview_lakehouse", "model": model,
            "overseer_model": "kimi-k2:1t", "correction_kind": "hallucinated_symbol" if quality == "halluc"
            else "thin_review", "original": text, "corrected": corrected, "verdict": "corrected",
            "note": f"{model} {what}; the real issue is in `{f['fn']}`: {pat['title']}."})  # fmt: skip

    def pathway(self, run_id: str, f: dict, mode: str, at: datetime, model: str, kind: str) -> None:
        better = "codereview_playbook_only" if mode == "codereview_lakehouse" else "codereview_lakehouse"
        self.add("pathway_recommendations", at, {
            "run_id": run_id, "ts": iso(at), "task_class": "codereview_lakehouse", "file": f["path"],
            "current_mode": mode, "recommended_mode": better, "recommended_model": model,
            "pathway_id": f"pw-{sha(f['pattern'], 6)}", "replay_rate": round(self.rng.uniform(0.4, 0.9), 2),
            "traces": self.ms(4, 30), "confidence": round(self.rng.uniform(0.5, 0.9), 2),
            "reason": f"{f['pattern']} runs under {f['path'].split('/')[0]}/ replay best with {better}; this run "
                      + ("landed on the first attempt." if kind == "accepted" else "needed escalation.")})

    def distilled(self, run_id: str, f: dict, pat: dict, kind: str, when: datetime,
                  label: str = "scrum_review") -> None:
        items = [("distilled_facts", "factual", pat["fact"].format(fn=f["fn"], path=f["path"]))]
        if INTENDED[kind] == "accepted":
            items.append(("distilled_procedures", "procedural", pat["procedure"].format(crate=f["crate"])))
        if pat.get("hint") and kind in ("accepted", "accepted_retry", "partial"):
            items.append(("distilled_config_hints", "config_hint", pat["hint"]))
        for i, (stream, category, text) in enumerate(items):
            at = when + timedelta(hours=2 + i, minutes=self.ms(0, 50))
            self.add(stream, at, {
                "run_id": run_id, "sig_hash": sha(f"{run_id}|{stream}|{text}", 16), "created_at": at.isoformat(),
                "extractor": EXTRACTOR, "verifier": VERIFIER, "categorizer": CLASSIFIER, "category": category,
                "text": text, "embedding": [round(self.rng.uniform(-1, 1), 4) for _ in range(16)], "embed_dim": 16,
                "schema_version": 2, "source_label": label, "source_service": "llm_team"})

    def override(self, run_id: str, f: dict, kind: str, when: datetime) -> None:
        decision = SCRUM_OVERRIDES.get(kind)
        if decision:
            at = when + timedelta(hours=self.ms(3, 20), minutes=self.ms(0, 59))
            self.human_override(at, decision, source="scrum", run_id=run_id, file=f["path"])

    def human_override(self, at: datetime, decision: tuple[str, str, str], source: str, **keys: Any) -> None:
        self.overrides += 1
        self.add("human_overrides", at, {
            **keys, "decided_at": iso(at), "reviewer": REVIEWERS[self.overrides % 3], "decision": decision[0],
            "reason": decision[2], "previous_verdict": decision[1], "source": source})

    # -- staffing scenario runs -----------------------------------------------------------------

    def scenario_run(self, k: int, when: datetime) -> None:
        name, role, count, shift, city, cert = SCENARIOS[k % len(SCENARIOS)]
        kind = SCENARIO_PLAN[k % len(SCENARIO_PLAN)]
        run_id = f"scen-{k + 1:03d}"
        fixture = f"tests/multi-agent/scenarios/{name}.json"
        prompt = SCENARIO_PROMPT.format(name=name, count=count, role=role, shift=shift, city=city, cert=cert)
        models = [WEAK, STRONG[k % 2]] + ([STRONG[2]] if kind == "rejected" else [])
        for n, model in enumerate(models, 1):
            at = when - timedelta(seconds=45 - 12 * (n - 1))
            good = kind != "rejected" or n < len(models)
            lines = []
            for i in range(min(count, 5)):
                wid = self.ms(100000, 499999)
                cite = f" [workers_500k_v8#{wid}]" if good or i % 2 else ""
                lines.append(f"{i + 1}. W-{wid}: {role}, {cert if good else 'certification unknown'}, "
                             f"{self.rng.uniform(1, 14 if good else 40):.1f} mi{cite}")  # fmt: skip
            gaps = "Gaps: none." if kind == "accepted" else f"Gaps: only {min(count, 5)} of {count} have {cert}."
            text = "\n".join(lines) + "\n" + gaps
            p_tok, c_tok = len(prompt) // 4 + 900, len(text) // 4
            self.add("mode_experiments", at, {
                "ts": iso(at), "task_class": "staffing_inference", "mode": "staffing_inference_lakehouse",
                "model": model, "role": "primary" if n == 1 else "verifier", "attempt": n, "file_path": fixture,
                "sources": ["workers_500k_v8", "entity_brief_v1"], "matrix_hits": self.ms(20, 60),
                "prompt": prompt, "response": text, "response_chars": len(text), "prompt_tokens": p_tok,
                "completion_tokens": c_tok, "latency_ms": self.ms(9000, 30000),
                "cost": round((p_tok + c_tok) / 1000 * USD_PER_1K[model], 5)})
        total = self.ms(8, 14)
        ok = total - self.ms(3, 5) if kind == "rejected" else total
        gaps = {"accepted": 0, "override_escalate": 0, "partial": self.ms(1, 3), "rejected": self.ms(2, 4)}[kind]
        self.add("outcomes", when, {
            "run_id": run_id, "sig_hash": sha(f"{run_id}|outcome", 16), "created_at": iso(when), "scenario": fixture,
            "task_class": "staffing_inference", "models": models, "total_events": total, "ok_events": ok,
            "total_citations": self.ms(5, 12) if kind != "rejected" else self.ms(0, 3), "total_gap_signals": gaps,
            "duration_ms": self.ms(40000, 90000)})
        self.add("model_trust", when + timedelta(seconds=5), {
            "run_id": run_id, "ts": iso(when + timedelta(seconds=5)), "task_type": "staffing_inference",
            "file": fixture, "accepted_model": None if kind == "rejected" else models[-1], "models_tried": models,
            "attempts_made": len(models), "confidence_avg": 0.5 if kind == "rejected" else 0.81, "errors": 0,
            "thin_rejections": 0})
        verdict, conf, notes = SCENARIO_OBSERVER[kind]
        at = when + timedelta(seconds=20)
        self.add("observer_reviews", at, {
            "run_id": run_id, "file": fixture, "reviewed_at": iso(at), "source": "scenario", "attempt": len(models),
            "model": models[-1], "observer_model": "kimi-k2:1t", "verdict": verdict, "confidence": conf,
            "notes": notes.format(cert=cert), "kb_preamble_chars": self.ms(2000, 4000)})
        if kind == "override_escalate":
            self.human_override(when + timedelta(hours=6), SCENARIO_OVERRIDE, source="scenario", run_id=run_id,
                                file=fixture)  # fmt: skip
        if kind != "rejected":
            text = SCENARIO_FACT.format(name=name, role=role, shift=shift, cert=cert, city=city)
            at = when + timedelta(hours=3)
            self.add("distilled_facts", at, {
                "run_id": run_id, "sig_hash": sha(f"{run_id}|fact", 16), "created_at": at.isoformat(),
                "extractor": EXTRACTOR, "verifier": VERIFIER, "categorizer": CLASSIFIER, "category": "factual",
                "text": text, "embedding": [round(self.rng.uniform(-1, 1), 4) for _ in range(16)], "embed_dim": 16,
                "schema_version": 2, "source_label": "scenario", "source_service": "llm_team"})
        self.manifest[run_id] = {"family": "scenario", "kind": kind, "intended": INTENDED[kind], "file": fixture,
                                 "created_at": iso(when)}

    # -- PR audits --------------------------------------------------------------------------------

    def audit_run(self, k: int, when: datetime) -> None:
        idx, kind = AUDIT_PLAN[k % len(AUDIT_PLAN)]
        number, title, files, claims = PRS[idx]
        number += 100 * (k // len(AUDIT_PLAN))
        head = sha(f"{number}|{k}|head", 40)
        statuses = ["verified"] * len(claims)
        if kind == "warn":
            statuses[-1] = "partial"
        elif kind in ("block", "override"):
            statuses[-1] = "fake"
        verdict, severity = AUDIT_VERDICT[kind]
        evidence = CLAIM_EVIDENCE
        diff = "\n".join(f"M {p}" for p in files)
        if number % 100 == 9:  # PR 109 removes a hard-coded key: the diff excerpt shows it
            diff += f'\n-const FALLBACK_OPENAI_KEY: &str = "{self.api_key}";'
        numbered = "\n".join(f"{i + 1}. {c}" for i, c in enumerate(claims))
        prompt = AUDIT_PROMPT.format(number=number, title=title, head=head[:12], claims=numbered, diff=diff)
        summary = f"Verdict: {verdict} (severity {severity}). " + " ".join(
            f"Claim {i + 1} {s}: {evidence[s]}." for i, s in enumerate(statuses))
        checks = {"static": {"passed": True, "findings": []},
                  "dynamic": {"passed": kind not in ("block", "override"),
                              "findings": [] if kind not in ("block", "override") else ["claimed test not found"]},
                  "inference": {"passed": kind != "warn", "findings": [] if kind != "warn" else [
                      f"claim '{claims[-1]}' only partly delivered"]},
                  "kb_query": {"passed": True, "findings": []}}  # fmt: skip
        self.add("audits", when, {
            "pr_number": number, "head_sha": head, "audited_at": iso(when), "repo": "profit/lakehouse",
            "title": title, "author": "profit", "verdict": verdict, "severity": severity,
            "claims": [{"idx": i, "text": c, "status": s, "evidence": evidence[s]}
                       for i, (c, s) in enumerate(zip(claims, statuses, strict=True))],
            "checks": checks, "files_changed": files, "model": "gpt-oss:120b", "prompt": prompt, "summary": summary,
            "duration_ms": self.ms(60000, 240000), "cost": round(self.rng.uniform(0.004, 0.02), 4)})
        run_key = f"pr:{number}@{head[:12]}"
        for i, fact in enumerate([f"PR #{number} modifies {files[0]}.", f"PR #{number} claims: {claims[0]}."]):
            at = when + timedelta(seconds=30 + i)
            self.add("audit_facts", at, {
                "pr_number": number, "head_sha": head, "extracted_at": iso(at), "extractor": EXTRACTOR,
                "verifier": VERIFIER, "llm_team_run_id": f"ltr-{sha(run_key, 8)}", "fact": fact,
                "entities": [files[0].rsplit("/", 1)[-1], f"PR#{number}"],
                "relationships": [{"subject": f"PR#{number}", "predicate": "modifies", "object": files[0]}],
                "verified": True, "confidence": round(self.rng.uniform(0.7, 0.97), 2)})
        split = VOTE_SPLITS[kind]
        if kind in ("conflict", "block", "override") or k % 2 == 0:
            claim_idx = len(claims) - 1 if kind != "conflict" else 0
            resolution = max(split, key=split.count)
            why = {v: t.format(file=files[0], claim=claims[claim_idx]) for v, t in VOTE_RATIONALES.items()}
            at = when + timedelta(seconds=40)
            self.add("audit_discrepancies", at, {
                "pr_number": number, "head_sha": head, "claim_idx": claim_idx, "claim": claims[claim_idx],
                "votes": [{"model": m, "verdict": v, "rationale": why[v]} for m, v in zip(VOTERS, split, strict=True)],
                "resolution": resolution, "chosen": why[resolution],
                "rejected": next(why[v] for v in split if v != resolution), "ts": iso(at)})
        if kind != "pass":
            category = LESSON_CATEGORY[kind]
            self.lesson_counts[category] = self.lesson_counts.get(category, 0) + 1
            lesson = LESSONS[category].format(number=number, first=claims[0], last=claims[-1])
            at = when + timedelta(hours=1)
            self.add("audit_lessons", at, {
                "pr_number": number, "head_sha": head, "derived_at": iso(at), "extractor": EXTRACTOR,
                "lesson": lesson, "category": category, "applies_to": files,
                "recurrence": self.lesson_counts[category], "llm_team_run_id": f"ltr-{sha(run_key + 'l', 8)}"})
        if kind == "override":
            decision, previous, reason = AUDIT_OVERRIDE
            self.human_override(when + timedelta(hours=5), (decision, previous, reason.format(claim=claims[-1])),
                                source="auditor", pr_number=number, head_sha=head)  # fmt: skip
        self.manifest[run_key] = {"family": "pr_audit", "kind": kind, "intended": INTENDED[kind],
                                  "pr_number": number, "head_sha": head, "audited_at": iso(when)}

    # -- contract analyses, sweeps, drift, escalations --------------------------------------------

    def contract_run(self, k: int, when: datetime) -> None:
        verdict = CONTRACT_PLAN[k % len(CONTRACT_PLAN)]
        permit = f"CHI-BLD-{self.ms(1000000, 1999999)}"
        address = f"{self.ms(100, 2999)} {CONTRACT_STREETS[k % 4]}"
        work = CONTRACT_WORKS[k % 4]
        ok = verdict != "reject"
        source = CONTRACT_SOURCE.format(password=self.db_password) if k == 1 else ""
        prompt = CONTRACT_PROMPT.format(permit=permit, address=address, work=work, estimate=self.ms(40, 900),
                                        source=source)  # fmt: skip
        analysis, notes = CONTRACT_TEXTS[verdict]
        row = {"ts": iso(when), "ok": ok, "permit_id": permit, "model": STRONG[k % 2], "prompt": prompt,
               "analysis": analysis.format(work=work), "matrix_corpora": ["chicago_permits_v1", "entity_brief_v1"],
               "matrix_hits": self.ms(3, 12), "matrix_ms": self.ms(80, 900),
               "observer_verdict": verdict, "observer_conf": round(self.rng.uniform(0.6, 0.95), 2),
               "observer_notes": notes, "observer_src": "observer:3800", "cost": round(self.rng.uniform(0.001, 0.008), 4),
               "duration_ms": self.ms(4000, 20000)}  # fmt: skip
        if not ok:
            row["error"] = CONTRACT_ERROR
        self.add("contract_analyses", when, row)
        self.manifest[f"permit:{permit}"] = {"family": "contract", "kind": verdict, "intended": INTENDED[verdict],
                                            "permit_id": permit, "ts": iso(when)}

    def sweeps_and_drift(self) -> None:
        for i, (phase, name, status, verified, fake, partial) in enumerate(PHASES):
            at = BASE + timedelta(days=1 + i, hours=3)
            files = [f["path"] for f in FILES[i * 2: i * 2 + 2]]
            evidence = [{"claim": f"Phase {phase}: {name} touches {p}", "file": p, "found": j < verified}
                        for j, p in enumerate(files)]  # fmt: skip
            findings = [f"{verified} claim(s) verified"] + ([f"{fake} claim(s) have no code behind them"] if fake
                                                           else []) + (
                [f"{partial} claim(s) partly delivered (no tests)"] if partial else [])  # fmt: skip
            self.add("phase_sweep_findings", at, {
                "phase": phase, "phase_name": name, "status": status, "claims_verified": verified,
                "claims_fake": fake, "claims_partial": partial, "findings": findings, "evidence": evidence,
                "discovered_at": iso(at), "sweeper_model": "gpt-oss:120b"})
        for i, (doc, section, claim, actual, correction, severity) in enumerate(DOC_DRIFTS):
            at = BASE + timedelta(days=2 + 4 * i, hours=9)
            self.add("doc_drift_corrections", at, {
                "ts": iso(at), "doc": doc, "section": section, "claim": claim, "actual": actual,
                "correction": correction, "severity": severity, "commit": sha(doc + section, 7)})

    def escalations(self) -> None:
        for i, (cls, model, analysis, target) in enumerate(ESCALATIONS):
            at = BASE + timedelta(days=1 + 2 * i, hours=14)
            files = [f["path"] for f in FILES if (FILES.index(f) + i) % 5 == 0][:4]
            self.add("observer_escalations", at, {
                "ts": int(at.timestamp()), "sig_hash": sha(f"escalation|{cls}", 16), "cluster_size": 3 + i,
                "analysis": analysis, "mode": "codereview_lakehouse", "kb_preamble_chars": self.ms(3000, 6000),
                "failure_class": cls, "files": files, "models": [model], "escalated_to": target})

    # -- writing ----------------------------------------------------------------------------------

    def planted(self, stream: str, rows: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
        """(index, raw line, what is wrong) for the malformed lines planted in ``stream``."""
        def dump(row: dict[str, Any]) -> str:
            return json.dumps(row, ensure_ascii=False, separators=(",", ":"))

        def at(frac: float) -> int:
            return int(len(rows) * frac)

        out: list[tuple[int, str, str]] = []
        if stream == "mode_experiments" and rows:
            out.append((at(0.4), dump({**rows[at(0.4)], "attempt": 9, "latency_ms": "fast"}),
                        "wrong type: latency_ms is \"fast\""))
            text = dump(rows[at(0.7)])
            out.append((at(0.7), text[: len(text) * 11 // 20], "truncated line"))
        elif stream == "scrum_reviews" and rows:
            text = dump(rows[at(0.5)])
            out.append((at(0.5), text[: len(text) // 3], "truncated line"))
        elif stream == "auto_apply" and rows:
            out.append((at(0.5), repr(rows[at(0.5)]), "invalid JSON (a Python repr)"))
        elif stream == "observer_reviews" and rows:
            out.append((at(0.3), dump({**rows[at(0.3)], "confidence": "high"}), "wrong type: confidence is \"high\""))
        elif stream == "audits" and rows:
            row = {k: v for k, v in rows[at(0.5)].items() if k != "head_sha"}
            out.append((at(0.5), dump(row), "missing required field head_sha"))
        elif stream == "contract_analyses" and rows:
            out.append((at(0.5), PLANTED_CONTRACT_LINE, "invalid JSON (unterminated string)"))
        return out

    def write(self, out: Path) -> dict[str, list[dict[str, Any]]]:
        out.mkdir(parents=True, exist_ok=True)
        malformed: dict[str, list[dict[str, Any]]] = {}
        for stream in STREAMS:
            rows = [r for _, _, r in sorted(self.rows.get(stream, []), key=lambda x: (x[0], x[1]))]
            planted = sorted(self.planted(stream, rows), key=lambda x: x[0])
            lines: list[str] = []
            for i, row in enumerate(rows):
                while planted and planted[0][0] == i:  # the bad line goes just before row i
                    _, raw, what = planted.pop(0)
                    lines.append(raw)
                    malformed.setdefault(stream, []).append({"line": len(lines), "problem": what})
                lines.append(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
            (out / f"{stream}.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        return malformed


def generate(out: Path = OUT, runs: int = 48) -> dict[str, Any]:
    """Write the 22 streams into ``out``; return the manifest (runs, malformed lines, planted secrets)."""
    kb = KB(runs)
    kb.build()
    malformed = kb.write(out)
    return {
        "seed": SEED, "runs": kb.manifest, "malformed": malformed,
        "secrets": {"openai_key": kb.api_key, "github_token": kb.gh_token,
                    "push_url_password": kb.push_password, "db_url_password": kb.db_password,
                    "emails": ["j.alvarez@devop.live", "priya.n@devop.live", "ops@devop.live"]},
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default {OUT})")
    parser.add_argument("--runs", type=int, default=48,
                        help="scrum runs (default 48); scenario, audit and contract runs scale with it")
    parser.add_argument("--manifest", action="store_true", help="print the manifest (intended categories) as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    manifest = generate(args.out, args.runs)
    if args.manifest:
        print(json.dumps(manifest, indent=2, sort_keys=True))
    else:
        sizes = {p.name: p.stat().st_size for p in sorted(args.out.glob("*.jsonl"))}
        print(f"wrote {len(sizes)} streams, {sum(sizes.values())} bytes, {len(manifest['runs'])} runs into {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
