"""Text catalogue of the example generator, part 2: run plans, PRs, scenarios and loop texts.

Static data and text templates only (``{name}`` fields are filled by examples/generate.py).
"""

from __future__ import annotations

from catalogue import WEAK

# --- run plans, scenarios, PRs, phases -----------------------------------------------------------

SCENARIOS = [
    ("Heritage_Foods", "line cook", 9, "1st shift", "Joliet IL", "ServSafe"),
    ("Riverfront_Steel", "forklift operator", 14, "2nd shift", "Gary IN", "OSHA 1910.178"),
    ("Lakeside_Logistics", "warehouse associate", 22, "night shift", "Kenosha WI", "none"),
    ("Northgate_Health", "CNA", 6, "weekend", "Evanston IL", "state CNA license"),
    ("Prairie_Mills", "machine operator", 11, "2nd shift", "Peoria IL", "lockout/tagout"),
    ("Summit_Retail", "stocker", 18, "overnight", "Naperville IL", "none"),
]
PRS = [
    (101, "gateway: route pr_audit task class through the mode runner", ["crates/gateway/src/v1/mode.rs",
     "config/modes.toml"], ["Adds pr_audit to config/modes.toml", "Mode runner composes the pr_audit preamble"]),
    (102, "vectord: spawn_blocking for pathway memory load", ["crates/vectord/src/pathway_memory.rs"],
     ["pathway_memory loads off the runtime", "Adds test load_does_not_block_runtime"]),
    (103, "auditor: kb_query check over data/_kb", ["auditor/checks/kb_query.ts", "auditor/kb_index.ts"],
     ["kb_query surfaces recurring patterns", "kb_index reads all _kb streams"]),
    (104, "truth: TOML rule engine for SQL gates (Phase 42)", ["crates/truth/src/rules.rs",
     "crates/truth/tests/sql_gates.rs"], ["Rules load from config/truth/*.toml", "SQL gates block DROP TABLE"]),
    (105, "observer: relevance filter for adjacency pollution", ["mcp-server/relevance.ts"],
     ["Adjacency-pollution filter drops off-topic KB hits", "Preamble capped at 6000 chars"]),
    (106, "catalogd: manifest reload on change", ["crates/catalogd/src/manifest.rs"],
     ["Manifest cache reloads on mtime change", "Adds reload_sees_new_columns test"]),
    (107, "validator: staffing headcount validation (Phase 43)", ["crates/validator/src/staffing.rs"],
     ["Negative headcount is rejected", "Validation errors name the field"]),
    (108, "scrum: applier diff budget gate", ["tests/real-world/scrum_applier.ts"],
     ["Applier refuses diffs over 60 lines", "Gate result logged to auto_apply.jsonl"]),
    (109, "shared: secrets never logged", ["crates/shared/src/secrets.rs"],
     ["resolve_secret logs names only", "Hard-coded fallback key removed"]),
    (110, "auditor: bounded Gitea polling", ["auditor/gitea.ts"],
     ["Gitea poller retries 3x with backoff", "Poll errors reach the audit log"]),
    (111, "gateway: langfuse trace retries bounded", ["crates/gateway/src/v1/langfuse_trace.rs"],
     ["Trace emit gives up after 3 attempts", "Trace failures counted in /metrics"]),
    (112, "inference: token-budgeted treeSplitDiff", ["auditor/checks/inference.ts"],
     ["Shards stay under 0.8 x context window", "Split on hunk boundaries"]),
    (113, "model_matrix: reload weak-model set", ["crates/shared/src/model_matrix.rs"],
     ["Weak-model set reloads from config/model_matrix.toml", "is_weak_model reads the live matrix"]),
    (114, "docs: PHASES.md sync for phases 40-43", ["docs/PHASES.md"],
     ["PHASES.md marks Phase 42 shipped", "Links the truth crate tests"]),
]  # fmt: skip
# (pr index, audit kind); PRs 107 and 111 are audited twice: the second head fixes the first.
AUDIT_PLAN = [(0, "pass"), (1, "warn"), (2, "pass"), (3, "block"), (4, "conflict"), (5, "warn"),
              (6, "block"), (6, "pass"), (7, "pass"), (8, "override"), (9, "pass"), (10, "warn"),
              (10, "pass"), (11, "block"), (12, "warn"), (13, "pass")]  # fmt: skip
PHASES = [
    (37, "Observer relevance filter", "verified", 4, 0, 0),
    (38, "Auditor rebuild", "partial", 3, 0, 2),
    (39, "Mode runner pr_audit", "partial", 2, 1, 1),
    (40, "Strong-model downgrade gate", "verified", 3, 0, 0),
    (41, "Answers corpus", "verified", 2, 0, 0),
    (42, "Truth TOML rule engine", "drift", 1, 2, 1),
    (43, "Staffing/devops validators", "partial", 2, 0, 2),
    (44, "Productization", "fake", 0, 3, 0),
]

# Each file gets three scrum runs (slots f, f+16, f+32): the kinds of those three runs, by file.
PLAN = [
    ("rejected", "accepted_retry", "accepted"), ("accepted", "rejected", "override_to_accepted"),
    ("partial", "accepted", "conflicting"), ("rejected", "accepted_retry", "accepted"),
    ("accepted", "conflicting", "partial_late"), ("rejected", "accepted", "override_to_rejected"),
    ("accepted_retry", "partial", "accepted"), ("rejected", "override_to_accepted", "accepted"),
    ("partial", "accepted_retry", "rejected"), ("accepted", "rejected", "accepted_retry"),
    ("rejected", "accepted_retry", "accepted"), ("conflicting", "accepted", "override_conflict_partial"),
    ("partial_late", "rejected", "accepted"), ("accepted", "override_to_rejected", "accepted_retry"),
    ("rejected", "partial", "accepted"), ("accepted_retry", "conflicting", "override_to_accepted"),
]  # fmt: skip
INTENDED = {
    "accepted": "accepted", "accepted_retry": "accepted", "pass": "accepted", "accept": "accepted",
    "partial": "partially_accepted", "partial_late": "partially_accepted", "warn": "partially_accepted",
    "needs_work": "partially_accepted", "override_conflict_partial": "partially_accepted",
    "rejected": "rejected", "block": "rejected", "reject": "rejected", "override_to_rejected": "rejected",
    "conflicting": "needs_human_review", "conflict": "needs_human_review",
    "override_escalate": "needs_human_review", "override_to_accepted": "accepted", "override": "accepted",
}  # fmt: skip
SCENARIO_PLAN = ["accepted", "rejected", "accepted", "partial", "accepted", "rejected",
                 "partial", "accepted", "override_escalate", "accepted", "partial", "rejected"]  # fmt: skip
CONTRACT_PLAN = ["accept", "accept", "reject", "needs_work", "accept", "accept", "reject", "accept"]

# --- review texts, by attempt quality ------------------------------------------------------------


def good_review(f: dict, pat: dict, line: int, key: str) -> str:
    evidence = f'\nEvidence: `const FALLBACK_OPENAI_KEY: &str = "{key}";` (line {line - 3})' if (
        f["pattern"] == "secret_in_logs" and f["lang"] == "rust") else ""
    return (f"## Review: {f['path']}\n\n**Finding 1 (block), line {line}:** {pat['issue'].format(fn=f['fn'])}"
            f"{evidence}\n\n**Fix:** {pat['fix']}.\n\n```diff\n--- a/{f['path']}\n+++ b/{f['path']}\n"
            f"@@ -{line},4 +{line},6 @@\n{pat['patch'][f['lang']]}\n```\n\n**Tests:** add `{f['test']}`; "
            "it fails before the patch and passes after.")  # fmt: skip


def thin_review(f: dict, pat: dict, line: int, key: str) -> str:
    return (f"Looked through {f['path'].rsplit('/', 1)[-1]}. The code is mostly fine; consider adding more "
            "error handling and some tests. No critical issues found.")


def halluc_review(f: dict, pat: dict, line: int, key: str) -> str:
    return (f"## Review: {f['path']}\n\n`{f['fn']}` must call `{pat['ghost']}()` before it returns; it skips "
            f"that call at line {line + 40}.\n\n```diff\n+    {pat['ghost']}(&state)?;\n```")


def wrong_review(f: dict, pat: dict, line: int, key: str) -> str:
    return (f"## Review: {f['path']}\n\n**Finding 1 (block), line {line}:** {pat['issue'].format(fn=f['fn'])}"
            f"\n\n**Fix:** {pat['wrong'][0]}.\n\n```diff\n{pat['wrong'][1]}\n```")


REVIEWS = {"good": good_review, "thin": thin_review, "halluc": halluc_review, "wrong": wrong_review,
           "error": lambda *_: ""}  # fmt: skip
QUALITY_CONF = {"good": 0.9, "wrong": 0.74, "thin": 0.41, "halluc": 0.55, "error": 0.0}
REJECT_REASON = {"thin": "thin review: no line references, no patch", "error": "upstream 500 from ollama cloud",
                 "halluc": "hallucinated symbol `{ghost}` (not in the file or the symbols corpus)"}  # fmt: skip



# --- prompts -------------------------------------------------------------------------------------

SCRUM_PROMPT = ("You are the Lakehouse scrum reviewer (task_class=codereview_lakehouse, mode={mode}).\n"
                "Review the file below. Cite line numbers, propose minimal patches as unified diffs, and say "
                "how to test them.\n\nContext (matrix retrieval, top 4):\n{context}\n\n"
                "File: {path} (shard 1/{shards}, lines {first}-{last})\n```{lang}\n{code}\n```")  # fmt: skip
SCENARIO_PROMPT = ("Staffing fill request ({name}): {count} x {role}, {shift}, within 15 miles of {city}. "
                   "Required certification: {cert}.\nUse the workers_500k_v8 matrix and entity_brief_v1. Return "
                   "ranked candidates with one citation each, then list gaps.")  # fmt: skip
AUDIT_PROMPT = ('Audit PR #{number} "{title}" at {head} (repo profit/lakehouse).\nShip claims from the PR '
                "body:\n{claims}\nDiff summary:\n{diff}\nFor each claim say verified / partial / fake with evidence, "
                "then give the verdict (pass / warn / block) per auditor/policy.ts.")  # fmt: skip
CONTRACT_PROMPT = ("Analyse building permit {permit} ({address}, {work}, est. ${estimate}k). Flag "
                   "contractor license issues, zoning conflicts and missing inspections.\n{source}"
                   "Sources: chicago_permits_v1, entity_brief_v1.")  # fmt: skip
CONTRACT_SOURCE = "Raw rows were pulled from postgres://permits_ro:{password}@10.0.4.12:5432/permits.\n"

# --- scrum loop: applier, observer, human overrides ----------------------------------------------

APPLY_STEPS = {
    "rust": [("patch_parses", "git apply --check patches/{run_id}.diff"), ("compiles", "cargo check -p {crate}"),
             ("lint", "cargo clippy -p {crate} -- -D warnings"), ("tests", "cargo test -p {crate}"),
             ("diff_budget", "scripts/diff_budget.sh --max-lines 60")],
    "ts": [("patch_parses", "git apply --check patches/{run_id}.diff"), ("compiles", "bunx tsc --noEmit -p {crate}"),
           ("lint", "bunx eslint {path}"), ("tests", "bun test {crate}"),
           ("diff_budget", "scripts/diff_budget.sh --max-lines 60")],
}  # fmt: skip
FAILED_TAIL = {"rust": "test {test} ... FAILED\nthread 'main' panicked at {path}:{line}:17",
               "ts": "(fail) {test}\nerror: expect(received).toBe(expected)"}  # fmt: skip
PUSH_CMD = "git push https://scrum-bot:{password}@git.devop.live/profit/lakehouse.git {branch}"
# kind -> (verdict, confidence, notes); "conflicting_odd" is the rejecting variant of odd slots.
OBSERVER_SCRUM = {
    "accepted": ("accept", 0.88, "Cites L{line} and the patch compiles; matches an answers_v1 precedent."),
    "accepted_retry": ("accept", 0.84, "The retry is grounded: line refs, minimal diff, test named."),
    "partial": ("accept", 0.62, "Only the first finding is patched; the second is acknowledged, not fixed."),
    "partial_late": ("needs_work", 0.58, "Accepted on the third try and only one hunk landed."),
    "rejected": ("reject", 0.9, "No usable patch; {title} stays open."),
    "override_to_accepted": ("reject", 0.71, "Tests went red after apply; treating the patch as broken."),
    "override_to_rejected": ("accept", 0.86, "Looks right and tests are green."),
    "override_conflict_partial": ("accept", 0.9, "Patch reads correct; the test failure looks unrelated."),
    "conflicting": ("accept", 0.91, "Patch reads correct; well grounded in lakehouse_arch_v1."),
    "conflicting_odd": ("reject", 0.88, "The patch masks the failure with a default; behaviour change untested."),
}  # fmt: skip
# kind -> (decision, previous verdict, reason)
SCRUM_OVERRIDES = {
    "override_to_accepted": ("approve", "needs_work", "The red test was the flaky pathway replay test; "
                             "re-ran it 5x green and verified the patch by hand."),
    "override_to_rejected": ("reject", "accept", "The patch drops the guard too early and deadlocked "
                             "staging under load; reverted in main. cc ops@devop.live"),
    "override_conflict_partial": ("partial", "accept", "Keep the first two hunks; the third changes "
                                  "retry semantics and needs its own PR."),
}  # fmt: skip

# --- staffing scenarios --------------------------------------------------------------------------

SCENARIO_OBSERVER = {
    "accepted": ("accept", 0.86, "All placements cited and certified."),
    "rejected": ("reject", 0.8, "Candidates without certification and uncited; two are 30+ miles out."),
    "partial": ("needs_work", 0.6, "Cited, but the fill is short: not enough {cert} holders."),
    "override_escalate": ("accept", 0.7, "Fill looks complete."),
}  # fmt: skip
SCENARIO_OVERRIDE = ("escalate", "accept", "The client disputes two placements from last week; the account manager "
                     "must confirm before reuse.")  # fmt: skip
SCENARIO_FACT = "{name} fills for {role} ({shift}) need {cert}; candidates beyond 15 miles from {city} decline."

# --- PR audits -----------------------------------------------------------------------------------

AUDIT_VERDICT = {"pass": ("pass", "info"), "conflict": ("pass", "info"), "warn": ("warn", "warn"),
                 "block": ("block", "block"), "override": ("block", "block")}  # fmt: skip
CLAIM_EVIDENCE = {"verified": "found in the diff and covered by a test", "partial": "code present, no test",
                  "fake": "no matching change in the diff"}  # fmt: skip
VOTERS = ["gpt-oss:120b", "deepseek-v3.1", "kimi-k2:1t"]
VOTE_SPLITS = {"conflict": ["fake", "fake", "verified"], "block": ["fake", "fake", "verified"],
               "override": ["fake", "fake", "verified"], "pass": ["verified", "verified", "partial"],
               "warn": ["verified", "verified", "fake"]}  # fmt: skip
VOTE_RATIONALES = {"verified": "the diff changes {file} as claimed", "fake": "no change in {file} delivers '{claim}'",
                   "partial": "the change is there but untested"}  # fmt: skip
LESSON_CATEGORY = {"warn": "partial_delivery", "block": "claim_without_change", "override": "stale_diff",
                   "conflict": "consensus_split"}  # fmt: skip
# {first}/{last}: the PR's first/last claim
LESSONS = {
    "partial_delivery": "'{last}' shipped without its test; ask for the test before pass.",
    "claim_without_change": "PR #{number} claimed '{last}' with no matching change; block claims that name no file "
                            "in the diff.",
    "stale_diff": "The auditor read a stale diff; re-fetch the head before judging claims.",
    "consensus_split": "Voters split on '{first}': send splits to a human, not the majority.",
}  # fmt: skip
AUDIT_OVERRIDE = ("approve", "block", "Claim '{claim}' verified by hand: the key was rotated and removed in 3f2a9c1; "
                  "the auditor read a stale diff.")  # fmt: skip

# --- contract analyses, doc drift, escalations ---------------------------------------------------

CONTRACT_STREETS = ("W Fulton Market", "S Halsted St", "N Milwaukee Ave", "W Cermak Rd")
CONTRACT_WORKS = ("renovation", "new construction", "wrecking", "electrical")
# verdict -> (analysis, observer notes)
CONTRACT_TEXTS = {
    "accept": ("Contractor license active; zoning matches {work}; all required inspections are scheduled. No issues.",
               "Grounded in permit rows; inspections listed."),
    "reject": ("Could not complete: matrix lookup timed out before entity_brief_v1 answered.", "No analysis produced."),
    "needs_work": ("Contractor license active, but the wrecking inspection is missing and the zoning class could not "
                   "be confirmed.", "Misses the wrecking inspection requirement."),
}  # fmt: skip
CONTRACT_ERROR = "matrix timeout after 8000 ms (entity_brief_v1)"
# (doc, section, claim, actual, correction, severity)
DOC_DRIFTS = [
    ("docs/PHASES.md", "Phase 42", "Phase 42 shipped: the truth crate enforces SQL gates",
     "crates/truth/src/rules.rs loads rules, but no gate is wired into queryd",
     "Mark Phase 42 partial and link PR #104", "warn"),
    ("docs/PRD.md", "Phase 44", "Productization shipped", "no billing or tenant module exists",
     "Move Phase 44 back to planned", "block"),
    ("docs/SCRUM_MASTER_SPEC.md", "Applier", "the applier has four gates",
     "five gates: diff_budget was added in PR #108", "Document the diff_budget gate", "info"),
]  # fmt: skip
# (failure class, model, analysis, escalated to)
ESCALATIONS = [
    ("thin_review", WEAK, "qwen2.5-coder:32b gives generic reviews with no line references on files over "
     "300 lines; escalate those to gpt-oss:120b on the first attempt.", "gpt-oss:120b"),
    ("hallucinated_symbol", WEAK, "Reviews cite symbols that are not in lakehouse_symbols_v1; check every "
     "cited symbol against the symbols corpus before accepting.", "deepseek-v3.1"),
    ("upstream_500", "kimi-k2:1t", "kimi-k2:1t returns 500 from Ollama Cloud in bursts; route around it "
     "for 30 minutes after two failures.", "gpt-oss:120b"),
    ("context_overflow", WEAK, "tree-split shards plus the KB preamble overflow 32k contexts; budget "
     "tokens, not characters.", "kimi-k2:1t"),
    ("test_regression", "gpt-oss:120b", "Patches that replace unwraps with defaults pass review but "
     "break tests; require a named failing test in the review.", "deepseek-v3.1"),
]  # fmt: skip
# A malformed line planted in contract_analyses.jsonl (a write cut off mid-string).
PLANTED_CONTRACT_LINE = ('{"ts":"2026-04-15T10:02:11.000Z","ok":true,"permit_id":"CHI-BLD-1000001",'
                         '"analysis":"Contractor license lapsed on 2026-03-31 and')

STREAMS = (
    "mode_experiments", "scrum_reviews", "auto_apply", "audits", "audit_facts", "audit_lessons",
    "audit_discrepancies", "observer_escalations", "observer_reviews", "model_trust", "outcomes",
    "human_overrides", "overseer_corrections", "phase_sweep_findings", "doc_drift_corrections",
    "pathway_recommendations", "signatures", "classifications", "contract_analyses", "distilled_facts",
    "distilled_procedures", "distilled_config_hints",
)  # fmt: skip
