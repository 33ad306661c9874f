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

Same arguments, same bytes: one fixed seed, no clock, no set iteration. The file is long because
it holds the text catalogue too (one file, so the sample stays reproducible from one script).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SEED = 19814
BASE = datetime(2026, 4, 12, 6, 0, tzinfo=UTC)
OUT = Path(__file__).resolve().parent / "lakehouse_kb"
WEAK, STRONG = "qwen2.5-coder:32b", ("gpt-oss:120b", "deepseek-v3.1", "kimi-k2:1t")
CLASSIFIER, EXTRACTOR, VERIFIER = "llama3.1:8b", "qwen2.5-coder:32b", "gpt-oss:120b"
USD_PER_1K = {WEAK: 0.0, "gpt-oss:120b": 0.0006, "deepseek-v3.1": 0.0009, "kimi-k2:1t": 0.0015}
BRANCH = "scrum/auto-apply-19814"
REVIEWERS = ("j.alvarez@devop.live", "profit", "priya.n@devop.live")
ALNUM = string.ascii_letters + string.digits

# --- text catalogue ----------------------------------------------------------------------------

FILES = [
    ("crates/gateway/src/v1/mode.rs", "gateway", "resolve_mode", "unwrap_panic", 212, 3,
     "v1::mode::tests::unknown_task_class_is_400"),
    ("crates/gateway/src/v1/chat.rs", "gateway", "chat_handler", "unwrap_panic", 88, 2,
     "v1::chat::tests::missing_model_header_is_400"),
    ("crates/gateway/src/v1/langfuse_trace.rs", "gateway", "emit_trace", "unbounded_retry", 141, 1,
     "v1::langfuse_trace::tests::gives_up_after_budget"),
    ("crates/vectord/src/pathway_memory.rs", "vectord", "load_traces", "blocking_io", 377, 4,
     "pathway_memory::tests::load_does_not_block_runtime"),
    ("crates/vectord/src/hnsw.rs", "vectord", "persist_index", "blocking_io", 264, 3,
     "hnsw::tests::persist_roundtrip"),
    ("crates/catalogd/src/manifest.rs", "catalogd", "cached_manifest", "stale_cache", 59, 2,
     "manifest::tests::reload_sees_new_columns"),
    ("crates/truth/src/rules.rs", "truth", "load_rules", "unvalidated_input", 133, 2,
     "rules::tests::rejects_unbounded_limit"),
    ("crates/validator/src/staffing.rs", "validator", "validate_fill", "unvalidated_input", 301, 3,
     "staffing::tests::rejects_negative_headcount"),
    ("crates/shared/src/secrets.rs", "shared", "resolve_secret", "secret_in_logs", 47, 1,
     "secrets::tests::debug_output_is_redacted"),
    ("crates/shared/src/model_matrix.rs", "shared", "weak_model_set", "stale_cache", 96, 2,
     "model_matrix::tests::matrix_reload_updates_weak_set"),
    ("auditor/gitea.ts", "auditor", "pollPullRequests", "unbounded_retry", 58, 1,
     "gitea > stops polling after the retry budget"),
    ("auditor/fact_extractor.ts", "auditor", "extractFacts", "unbounded_retry", 112, 2,
     "fact_extractor > surfaces LLM Team 5xx"),
    ("auditor/checks/inference.ts", "auditor", "treeSplitDiff", "context_overflow", 203, 3,
     "inference > keeps shards under the token budget"),
    ("mcp-server/observer.ts", "mcp-server", "handleEvent", "secret_in_logs", 171, 2,
     "observer > redacts authorization headers"),
    ("mcp-server/relevance.ts", "mcp-server", "filterAdjacency", "context_overflow", 84, 1,
     "relevance > caps the preamble"),
    ("tests/real-world/scrum_applier.ts", "tests/real-world", "applyPatch", "unvalidated_input", 236, 2,
     "scrum_applier > refuses paths outside the repo"),
]  # fmt: skip
FILES = [dict(zip(("path", "crate", "fn", "pattern", "line", "shards", "test"), f, strict=True),
              lang="rust" if f[0].endswith(".rs") else "ts") for f in FILES]  # type: ignore[misc]  # fmt: skip

PATTERNS: dict[str, dict[str, Any]] = {
    "unwrap_panic": {
        "title": "unwrap()/expect() on request data panics the handler", "area": "error-handling",
        "issue": "`{fn}` calls unwrap()/expect() on client-supplied data; a missing header panics the "
                 "handler and drops the connection",
        "second": "the error body leaks the internal mode table in its Debug output",
        "fix": "return ApiError::BadRequest through `?` and `ok_or_else` instead of unwrap/expect",
        "wrong": ("fall back to the default mode with unwrap_or_default()",
                  '+    let task_class = headers.get("x-task-class").map(|v| v.to_str().unwrap_or_default())'
                  '.unwrap_or_default();'),
        "code": {"rust": 'pub async fn {fn}(State(state): State<AppState>, headers: HeaderMap,\n'
                         '    Json(req): Json<ModeRequest>) -> Json<ModeResponse> {{\n'
                         '    let task_class = headers.get("x-task-class").unwrap().to_str().unwrap();\n'
                         '    let mode = state.modes.get(task_class).expect("unknown task class");\n'
                         '    let plan = mode.compose(&req, &state.matrix).await.unwrap();\n'
                         '    Json(plan.into())\n}}'},
        "patch": {"rust": '-    let task_class = headers.get("x-task-class").unwrap().to_str().unwrap();\n'
                          '+    let task_class = headers.get("x-task-class").and_then(|v| v.to_str().ok())\n'
                          '+        .ok_or_else(|| ApiError::BadRequest("missing x-task-class".into()))?;\n'
                          '-    let mode = state.modes.get(task_class).expect("unknown task class");\n'
                          '+    let mode = state.modes.get(task_class)\n'
                          '+        .ok_or_else(|| ApiError::BadRequest(format!("unknown task class {task_class}")))?;'},
        "ghost": "AppState::reload_modes_blocking",
        "arch": "gateway handlers return ApiError; never panic on client input (ADR-014)",
        "answer": "prior accepted review replaced header unwraps with ApiError::BadRequest in v1/respond.rs",
        "fact": "`{fn}` in {path} resolves the task class from the x-task-class header before composing the "
                "mode plan.",
        "procedure": "Fix a panicking gateway handler: 1) grep the handler for unwrap()/expect() on request "
                     "data; 2) make it return Result<Json<_>, ApiError>; 3) replace each unwrap with "
                     "ok_or_else(ApiError::BadRequest); 4) add a test that omits the header; 5) cargo test -p "
                     "{crate}.",
        "hint": None,
    },
    "unbounded_retry": {
        "title": "upstream call retried without bound or backoff; errors swallowed", "area": "resilience",
        "issue": "`{fn}` retries the upstream call in a tight loop with no budget or backoff and swallows "
                 "the error, so a 5xx outage pins a core",
        "second": "the retry loop does not honour the request's cancellation",
        "fix": "bounded retries (3) with exponential backoff and jitter; surface the last error to the caller",
        "wrong": ("sleep one second between retries", "+    sleep(Duration::from_secs(1)).await;"),
        "code": {"rust": "pub fn {fn}(client: &Client, trace: Trace) {{\n    tokio::spawn(async move {{\n"
                         "        loop {{\n            if client.post(LANGFUSE_URL).json(&trace).send().await.is_ok() "
                         "{{ break; }}\n        }}\n    }});\n}}",
                 "ts": "export async function {fn}(url: string): Promise<Response> {{\n  while (true) {{\n"
                       "    try {{\n      return await fetch(url, {{ headers: giteaHeaders() }});\n    }} catch (_) {{\n"
                       "      // retry\n    }}\n  }}\n}}"},
        "patch": {"rust": "-        loop {\n+        for attempt in 0..3u32 {\n"
                          "             if client.post(LANGFUSE_URL).json(&trace).send().await.is_ok() { break; }\n"
                          "+            sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;",
                  "ts": "-  while (true) {\n+  for (let attempt = 0; attempt < 3; attempt++) {\n"
                        "-    } catch (_) {\n+    } catch (err) {\n+      lastError = err;\n"
                        "+      await Bun.sleep(200 * 2 ** attempt + Math.random() * 100);"},
        "ghost": "RetryPolicy::from_env",
        "arch": "outbound calls use a bounded retry budget with backoff (ADR-017)",
        "answer": "prior accepted review bounded the LLM Team client retries to 3 with jittered backoff",
        "fact": "`{fn}` in {path} calls an upstream HTTP service (Langfuse, Gitea or LLM Team) and retries on "
                "failure.",
        "procedure": "Bound an upstream retry loop: 1) replace the infinite loop with 3 attempts; 2) add "
                     "exponential backoff with jitter; 3) keep the last error and return it; 4) add a test "
                     "against a stub server that always returns 500; 5) run the {crate} tests.",
        "hint": "Set LH_UPSTREAM_RETRIES=3 and LH_UPSTREAM_BACKOFF_MS=200 for gateway and auditor; the "
                "defaults retried forever.",
    },
    "blocking_io": {
        "title": "blocking filesystem I/O inside async fn stalls the tokio runtime", "area": "async",
        "issue": "`{fn}` reads and parses the file with std::fs inside an async fn; a 200 MB trace file "
                 "blocks a runtime worker for seconds",
        "second": "the parsed traces are cloned for every query instead of shared behind an Arc",
        "fix": "use tokio::fs or move the read+parse into spawn_blocking",
        "wrong": ("increase the runtime worker count", "+#[tokio::main(worker_threads = 32)]"),
        "code": {"rust": "pub async fn {fn}(path: &Path) -> Result<Vec<Trace>> {{\n"
                         "    let raw = std::fs::read_to_string(path)?;\n"
                         "    let traces: Vec<Trace> = serde_json::from_str(&raw)?;\n    Ok(traces)\n}}"},
        "patch": {"rust": "-    let raw = std::fs::read_to_string(path)?;\n-    let traces: Vec<Trace> = "
                          "serde_json::from_str(&raw)?;\n+    let path = path.to_owned();\n"
                          "+    let traces = tokio::task::spawn_blocking(move || -> Result<Vec<Trace>> {\n"
                          "+        Ok(serde_json::from_reader(BufReader::new(File::open(path)?))?)\n"
                          "+    }).await??;"},
        "ghost": "HnswIndex::persist_async_unchecked",
        "arch": "vectord never blocks the runtime: file I/O goes through spawn_blocking (ADR-009)",
        "answer": "prior accepted review moved HNSW load into spawn_blocking and cut p95 by 4x",
        "fact": "`{fn}` in {path} loads pathway traces or HNSW data from disk for the vector daemon.",
        "procedure": "Unblock an async loader: 1) find std::fs calls inside async fns; 2) wrap read+parse in "
                     "tokio::task::spawn_blocking; 3) stream with BufReader instead of read_to_string; 4) add "
                     "a test that loads while another task ticks; 5) cargo test -p {crate}.",
        "hint": None,
    },
    "stale_cache": {
        "title": "cache not invalidated when the manifest or matrix changes", "area": "caching",
        "issue": "`{fn}` caches the parsed value in a OnceLock forever, so a changed manifest/matrix is "
                 "never seen until restart",
        "second": "the cache key ignores the profile name",
        "fix": "key the cache by file mtime+len and reload when either changes (ArcSwap)",
        "wrong": ("clear the cache on every call", "+    CACHE.take();"),
        "code": {"rust": "static CACHE: OnceLock<Manifest> = OnceLock::new();\n\n"
                         "pub fn {fn}(dir: &Path) -> &'static Manifest {{\n"
                         "    CACHE.get_or_init(|| Manifest::load(dir).unwrap())\n}}"},
        "patch": {"rust": "-static CACHE: OnceLock<Manifest> = OnceLock::new();\n"
                          "+static CACHE: Lazy<ArcSwap<Cached>> = Lazy::new(Default::default);\n"
                          "-    CACHE.get_or_init(|| Manifest::load(dir).unwrap())\n"
                          "+    let stamp = Stamp::of(dir)?;\n+    if CACHE.load().stamp != stamp { "
                          "CACHE.store(Arc::new(Cached::load(dir, stamp)?)); }\n+    Ok(CACHE.load().manifest.clone())"},
        "ghost": "Manifest::watch_inotify",
        "arch": "catalog and matrix caches are keyed by file stamp (mtime, len) (ADR-012)",
        "answer": "prior accepted review replaced the matrix OnceLock with an ArcSwap keyed by mtime",
        "fact": "`{fn}` in {path} returns a process-wide cached copy of a manifest or model matrix.",
        "procedure": "Make a cache reload-safe: 1) replace OnceLock with ArcSwap; 2) key entries by (mtime, "
                     "len); 3) reload on a changed stamp; 4) add a test that rewrites the file and reads "
                     "again; 5) cargo test -p {crate}.",
        "hint": "Set LH_MATRIX_RELOAD_SECS=30 so the gateway re-reads config/model_matrix.toml without a "
                "restart.",
    },
    "unvalidated_input": {
        "title": "untrusted input not validated before use", "area": "validation",
        "issue": "`{fn}` uses request/patch fields without validating them: unbounded limits, negative "
                 "counts and paths outside the repo all pass",
        "second": "the validation error message does not name the field",
        "fix": "validate at the boundary: bounded ranges, non-negative counts, canonical paths under the repo "
               "root; reject with a 400 naming the field",
        "wrong": ("clamp the value silently", "+    let limit = limit.min(1000);"),
        "code": {"rust": "pub fn {fn}(req: &FillRequest) -> Result<Plan> {{\n"
                         "    let limit: usize = req.params[\"limit\"].parse().unwrap_or(usize::MAX);\n"
                         "    let headcount = req.headcount as usize;\n    plan(req, limit, headcount)\n}}",
                 "ts": "export function {fn}(body: string): void {{\n  const patch = JSON.parse(body) as Patch;\n"
                       "  fs.writeFileSync(patch.path, patch.content);\n}}"},
        "patch": {"rust": "-    let limit: usize = req.params[\"limit\"].parse().unwrap_or(usize::MAX);\n"
                          "+    let limit: usize = req.params.get(\"limit\").map(|v| v.parse()).transpose()?\n"
                          "+        .filter(|l| (1..=500).contains(l)).ok_or(ValidationError::field(\"limit\"))?;\n"
                          "+    if req.headcount < 0 { return Err(ValidationError::field(\"headcount\").into()); }",
                  "ts": "-  fs.writeFileSync(patch.path, patch.content);\n"
                        "+  const target = path.resolve(REPO_ROOT, patch.path);\n"
                        "+  if (!target.startsWith(REPO_ROOT + path.sep)) throw new Error(`path outside repo: "
                        "${patch.path}`);\n+  fs.writeFileSync(target, patch.content);"},
        "ghost": "Validator::assert_sane_defaults",
        "arch": "validators reject at the boundary and name the field (Phase 43)",
        "answer": "prior accepted review added ValidationError::field for staffing headcount",
        "fact": "`{fn}` in {path} takes a request or patch from outside the process and acts on its fields.",
        "procedure": "Validate untrusted input: 1) list every field the function reads; 2) add range / sign / "
                     "path checks at the boundary; 3) return an error naming the field; 4) add one negative "
                     "test per field; 5) run the {crate} tests.",
        "hint": None,
    },
    "secret_in_logs": {
        "title": "secrets written to logs", "area": "security",
        "issue": "`{fn}` logs the resolved secret / request headers verbatim, and a fallback key is "
                 "hard-coded",
        "second": "the Debug impl of SecretRef prints the value",
        "fix": "log only the secret's name; redact Authorization headers; remove the hard-coded fallback",
        "wrong": ("lower the log level to debug", '+    tracing::debug!("resolved secret {} = {}", name, value);'),
        "code": {"rust": 'const FALLBACK_OPENAI_KEY: &str = "{key}";\n\n'
                         "pub fn {fn}(name: &str) -> String {{\n"
                         "    let value = std::env::var(name).unwrap_or_else(|_| FALLBACK_OPENAI_KEY.into());\n"
                         '    tracing::info!("resolved secret {{}} = {{}}", name, value);\n    value\n}}',
                 "ts": "export function {fn}(req: Request, body: ObserverEvent): void {{\n"
                       "  // sample line from prod: Authorization: token {token}\n"
                       '  console.log("event", JSON.stringify(Object.fromEntries(req.headers)), body.kind);\n'
                       "  queue.push(body);\n}}"},
        "patch": {"rust": '-const FALLBACK_OPENAI_KEY: &str = "…";\n'
                          "-    let value = std::env::var(name).unwrap_or_else(|_| FALLBACK_OPENAI_KEY.into());\n"
                          "-    tracing::info!(\"resolved secret {} = {}\", name, value);\n"
                          "+    let value = std::env::var(name).map_err(|_| SecretError::Missing(name.into()))?;\n"
                          "+    tracing::info!(secret = name, \"resolved secret\");",
                  "ts": '-  console.log("event", JSON.stringify(Object.fromEntries(req.headers)), body.kind);\n'
                        '+  console.log("event", redactHeaders(req.headers), body.kind);'},
        "ghost": "SecretStore::scrub_all",
        "arch": "secrets never reach logs; only names are logged (ADR-019)",
        "answer": "prior accepted review added redactHeaders() to the UI server",
        "fact": "`{fn}` in {path} handles credentials or request headers that may carry tokens.",
        "procedure": "Stop a secret leak: 1) grep for logging of values/headers; 2) log names only; 3) redact "
                     "Authorization; 4) delete hard-coded fallbacks and rotate the leaked key; 5) add a test "
                     "that captures logs and asserts no secret; 6) run the {crate} tests.",
        "hint": "Set LH_LOG_REDACT=authorization,x-api-key,cookie for mcp-server and gateway logs.",
    },
    "context_overflow": {
        "title": "prompt/context budget overflow when splitting large inputs", "area": "prompting",
        "issue": "`{fn}` splits by characters with no token budget, so a shard plus the KB preamble exceeds the "
                 "model's context and the tail is silently truncated",
        "second": "shards cut through the middle of a hunk header",
        "fix": "split on hunk/paragraph boundaries and budget tokens (preamble + shard <= 0.8 x context window)",
        "wrong": ("truncate the diff to 8000 characters", "+  diff = diff.slice(0, 8000);"),
        "code": {"ts": "export function {fn}(diff: string, preamble: string): string[] {{\n"
                       "  const shards = diff.match(/[\\s\\S]{{1,12000}}/g) ?? [];\n"
                       "  return shards.map((s) => preamble + s);\n}}"},
        "patch": {"ts": "-  const shards = diff.match(/[\\s\\S]{1,12000}/g) ?? [];\n"
                        "+  const budget = Math.floor(contextWindow(model) * 0.8) - countTokens(preamble);\n"
                        "+  const shards = splitOnHunks(diff).reduce(packUnder(budget), []);"},
        "ghost": "TokenBudget.autoscale",
        "arch": "every prompt is budgeted in tokens against the model's context window (MODE_RUNNER_TUNING_PLAN)",
        "answer": "prior accepted review split diffs on hunk boundaries with a 0.8 context budget",
        "fact": "`{fn}` in {path} splits a large diff or KB preamble into shards for a model prompt.",
        "procedure": "Budget a tree split: 1) count preamble tokens; 2) budget = 0.8 x context window - "
                     "preamble; 3) split on hunk boundaries; 4) pack shards under budget; 5) test with a 300 KB "
                     "diff; 6) run the {crate} tests.",
        "hint": "Set LH_CHUNK_SIZE=1200 and LH_OVERLAP=120 for tree splits; the old 12000-char shards overflowed "
                "qwen2.5-coder:32b.",
    },
}  # fmt: skip

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


def iso(dt: datetime) -> str:
    """JavaScript's toISOString(): what the Bun loops write."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def sha(text: str, n: int = 64) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


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
        prompt = (f"You are the Lakehouse scrum reviewer (task_class=codereview_lakehouse, mode={mode}).\n"
                  "Review the file below. Cite line numbers, propose minimal patches as unified diffs, and say "
                  "how to test them.\n\nContext (matrix retrieval, top 4):\n"
                  + "\n".join(f"- [{i}] {t}" for i, t in zip(ctx_ids, ctx_texts, strict=True))
                  + f"\n\nFile: {f['path']} (shard 1/{f['shards']}, lines {line - 6}-{line + 12})\n"
                  f"```{f['lang']}\n{code}\n```")  # fmt: skip
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
        steps = [("patch_parses", f"git apply --check patches/{run_id}.diff"),
                 ("compiles", f"cargo check -p {crate}" if rust else f"bunx tsc --noEmit -p {crate}"),
                 ("lint", f"cargo clippy -p {crate} -- -D warnings" if rust else f"bunx eslint {f['path']}"),
                 ("tests", f"cargo test -p {crate}" if rust else f"bun test {crate}"),
                 ("diff_budget", "scripts/diff_budget.sh --max-lines 60")]  # fmt: skip
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
                    tail = (f"test {f['test']} ... FAILED\nthread 'main' panicked at {f['path']}:{f['line'] + 4}:17"
                            if rust else f"(fail) {f['test']}\nerror: expect(received).toBe(expected)")
                cmds.append({"cmd": cmd, "exit": 0 if ok else (101 if rust else 1), "tail": tail})
            if failing:
                action, applied, reason = "reverted", 0, f"tests red after apply ({f['test']}); patch reverted"
            elif partial:
                applied = 2 if kind == "partial" else 1
                action, reason = "partial", f"{total - applied} hunk(s) exceed the diff budget; applied {applied}"
            else:
                action, applied, reason = "applied", total, None
                if slot % 7 == 3:  # the push step logs its remote URL, credentials included
                    cmds.append({"cmd": f"git push https://scrum-bot:{self.push_password}@git.devop.live/profit/"
                                        f"lakehouse.git {BRANCH}", "exit": 0, "tail": None})  # fmt: skip
        self.add("auto_apply", at, {
            "file": f["path"], "ts": int(at.timestamp() * 1000), "action": action, "patches_applied": applied,
            "patches_total": total, "gates": gates, "commands": cmds, "branch": BRANCH,
            "commit": sha(f"{run_id}|commit", 7) if action in ("applied", "partial") else None, "reason": reason})

    def observer_review(self, run_id: str, f: dict, kind: str, slot: int, at: datetime, model: str, attempt: int,
                        pat: dict) -> None:
        verdict, conf, notes = {
            "accepted": ("accept", 0.88, f"Cites L{f['line']} and the patch compiles; matches an answers_v1 "
                                         "precedent."),
            "accepted_retry": ("accept", 0.84, "The retry is grounded: line refs, minimal diff, test named."),
            "partial": ("accept", 0.62, "Only the first finding is patched; the second is acknowledged, not fixed."),
            "partial_late": ("needs_work", 0.58, "Accepted on the third try and only one hunk landed."),
            "rejected": ("reject", 0.9, f"No usable patch; {pat['title']} stays open."),
            "override_to_accepted": ("reject", 0.71, "Tests went red after apply; treating the patch as broken."),
            "override_to_rejected": ("accept", 0.86, "Looks right and tests are green."),
            "override_conflict_partial": ("accept", 0.9, "Patch reads correct; the test failure looks unrelated."),
            "conflicting": ("accept", 0.91, "Patch reads correct; well grounded in lakehouse_arch_v1."),
        }[kind]  # fmt: skip
        if kind == "conflicting" and slot % 2:
            verdict, conf, notes = "reject", 0.88, "The patch masks the failure with a default; behaviour change untested."
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
        decision = {
            "override_to_accepted": ("approve", "needs_work", "The red test was the flaky pathway replay test; "
                                     "re-ran it 5x green and verified the patch by hand."),
            "override_to_rejected": ("reject", "accept", "The patch drops the guard too early and deadlocked "
                                     "staging under load; reverted in main. cc ops@devop.live"),
            "override_conflict_partial": ("partial", "accept", "Keep the first two hunks; the third changes "
                                          "retry semantics and needs its own PR."),
        }.get(kind)  # fmt: skip
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
        prompt = (f"Staffing fill request ({name}): {count} x {role}, {shift}, within 15 miles of {city}. "
                  f"Required certification: {cert}.\nUse the workers_500k_v8 matrix and entity_brief_v1. Return "
                  "ranked candidates with one citation each, then list gaps.")  # fmt: skip
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
        verdict, conf = {"accepted": ("accept", 0.86), "rejected": ("reject", 0.8), "partial": ("needs_work", 0.6),
                         "override_escalate": ("accept", 0.7)}[kind]  # fmt: skip
        at = when + timedelta(seconds=20)
        self.add("observer_reviews", at, {
            "run_id": run_id, "file": fixture, "reviewed_at": iso(at), "source": "scenario", "attempt": len(models),
            "model": models[-1], "observer_model": "kimi-k2:1t", "verdict": verdict, "confidence": conf,
            "notes": {"accepted": "All placements cited and certified.",
                      "rejected": "Candidates without certification and uncited; two are 30+ miles out.",
                      "partial": f"Cited, but the fill is short: not enough {cert} holders.",
                      "override_escalate": "Fill looks complete."}[kind], "kb_preamble_chars": self.ms(2000, 4000)})
        if kind == "override_escalate":
            self.human_override(when + timedelta(hours=6), ("escalate", "accept", "The client disputes two "
                                "placements from last week; the account manager must confirm before reuse."),
                                source="scenario", run_id=run_id, file=fixture)  # fmt: skip
        if kind != "rejected":
            text = f"{name} fills for {role} ({shift}) need {cert}; candidates beyond 15 miles from {city} decline."
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
        verdict, severity = {"pass": ("pass", "info"), "conflict": ("pass", "info"), "warn": ("warn", "warn"),
                             "block": ("block", "block"), "override": ("block", "block")}[kind]  # fmt: skip
        evidence = {"verified": "found in the diff and covered by a test", "partial": "code present, no test",
                    "fake": "no matching change in the diff"}  # fmt: skip
        diff = "\n".join(f"M {p}" for p in files)
        if number % 100 == 9:  # PR 109 removes a hard-coded key: the diff excerpt shows it
            diff += f'\n-const FALLBACK_OPENAI_KEY: &str = "{self.api_key}";'
        prompt = (f'Audit PR #{number} "{title}" at {head[:12]} (repo profit/lakehouse).\nShip claims from the PR '
                  "body:\n" + "\n".join(f"{i + 1}. {c}" for i, c in enumerate(claims))
                  + f"\nDiff summary:\n{diff}\nFor each claim say verified / partial / fake with evidence, then "
                  "give the verdict (pass / warn / block) per auditor/policy.ts.")  # fmt: skip
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
        split = {"conflict": ["fake", "fake", "verified"], "block": ["fake", "fake", "verified"],
                 "override": ["fake", "fake", "verified"], "pass": ["verified", "verified", "partial"],
                 "warn": ["verified", "verified", "fake"]}[kind]  # fmt: skip
        if kind in ("conflict", "block", "override") or k % 2 == 0:
            claim_idx = len(claims) - 1 if kind != "conflict" else 0
            resolution = max(split, key=split.count)
            voters = ["gpt-oss:120b", "deepseek-v3.1", "kimi-k2:1t"]
            why = {"verified": f"the diff changes {files[0]} as claimed",
                   "fake": f"no change in {files[0]} delivers '{claims[claim_idx]}'",
                   "partial": "the change is there but untested"}  # fmt: skip
            at = when + timedelta(seconds=40)
            self.add("audit_discrepancies", at, {
                "pr_number": number, "head_sha": head, "claim_idx": claim_idx, "claim": claims[claim_idx],
                "votes": [{"model": m, "verdict": v, "rationale": why[v]} for m, v in zip(voters, split, strict=True)],
                "resolution": resolution, "chosen": why[resolution],
                "rejected": next(why[v] for v in split if v != resolution), "ts": iso(at)})
        if kind != "pass":
            category = {"warn": "partial_delivery", "block": "claim_without_change", "override": "stale_diff",
                        "conflict": "consensus_split"}[kind]  # fmt: skip
            self.lesson_counts[category] = self.lesson_counts.get(category, 0) + 1
            lesson = {"partial_delivery": f"'{claims[-1]}' shipped without its test; ask for the test before pass.",
                      "claim_without_change": f"PR #{number} claimed '{claims[-1]}' with no matching change; block "
                                              "claims that name no file in the diff.",
                      "stale_diff": "The auditor read a stale diff; re-fetch the head before judging claims.",
                      "consensus_split": f"Voters split on '{claims[0]}': send splits to a human, not the "
                                         "majority."}[category]  # fmt: skip
            at = when + timedelta(hours=1)
            self.add("audit_lessons", at, {
                "pr_number": number, "head_sha": head, "derived_at": iso(at), "extractor": EXTRACTOR,
                "lesson": lesson, "category": category, "applies_to": files,
                "recurrence": self.lesson_counts[category], "llm_team_run_id": f"ltr-{sha(run_key + 'l', 8)}"})
        if kind == "override":
            self.human_override(when + timedelta(hours=5), ("approve", "block", f"Claim '{claims[-1]}' verified by "
                                "hand: the key was rotated and removed in 3f2a9c1; the auditor read a stale diff."),
                                source="auditor", pr_number=number, head_sha=head)  # fmt: skip
        self.manifest[run_key] = {"family": "pr_audit", "kind": kind, "intended": INTENDED[kind],
                                  "pr_number": number, "head_sha": head, "audited_at": iso(when)}

    # -- contract analyses, sweeps, drift, escalations --------------------------------------------

    def contract_run(self, k: int, when: datetime) -> None:
        verdict = CONTRACT_PLAN[k % len(CONTRACT_PLAN)]
        permit = f"CHI-BLD-{self.ms(1000000, 1999999)}"
        street = ("W Fulton Market", "S Halsted St", "N Milwaukee Ave", "W Cermak Rd")[k % 4]
        address = f"{self.ms(100, 2999)} {street}"
        work = ("renovation", "new construction", "wrecking", "electrical")[k % 4]
        ok = verdict != "reject"
        source = (f"Raw rows were pulled from postgres://permits_ro:{self.db_password}@10.0.4.12:5432/permits.\n"
                  if k == 1 else "")  # fmt: skip
        prompt = (f"Analyse building permit {permit} ({address}, {work}, est. ${self.ms(40, 900)}k). Flag "
                  f"contractor license issues, zoning conflicts and missing inspections.\n{source}"
                  "Sources: chicago_permits_v1, entity_brief_v1.")  # fmt: skip
        analysis = {"accept": f"Contractor license active; zoning matches {work}; all required inspections are "
                              "scheduled. No issues.",
                    "reject": "Could not complete: matrix lookup timed out before entity_brief_v1 answered.",
                    "needs_work": "Contractor license active, but the wrecking inspection is missing and the "
                                  "zoning class could not be confirmed."}[verdict]  # fmt: skip
        row = {"ts": iso(when), "ok": ok, "permit_id": permit, "model": STRONG[k % 2], "prompt": prompt,
               "analysis": analysis, "matrix_corpora": ["chicago_permits_v1", "entity_brief_v1"],
               "matrix_hits": self.ms(3, 12), "matrix_ms": self.ms(80, 900),
               "observer_verdict": verdict, "observer_conf": round(self.rng.uniform(0.6, 0.95), 2),
               "observer_notes": {"accept": "Grounded in permit rows; inspections listed.",
                                  "reject": "No analysis produced.",
                                  "needs_work": "Misses the wrecking inspection requirement."}[verdict],
               "observer_src": "observer:3800", "cost": round(self.rng.uniform(0.001, 0.008), 4),
               "duration_ms": self.ms(4000, 20000)}  # fmt: skip
        if not ok:
            row["error"] = "matrix timeout after 8000 ms (entity_brief_v1)"
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
        drifts = [
            ("docs/PHASES.md", "Phase 42", "Phase 42 shipped: the truth crate enforces SQL gates",
             "crates/truth/src/rules.rs loads rules, but no gate is wired into queryd",
             "Mark Phase 42 partial and link PR #104", "warn"),
            ("docs/PRD.md", "Phase 44", "Productization shipped", "no billing or tenant module exists",
             "Move Phase 44 back to planned", "block"),
            ("docs/SCRUM_MASTER_SPEC.md", "Applier", "the applier has four gates",
             "five gates: diff_budget was added in PR #108", "Document the diff_budget gate", "info"),
        ]  # fmt: skip
        for i, (doc, section, claim, actual, correction, severity) in enumerate(drifts):
            at = BASE + timedelta(days=2 + 4 * i, hours=9)
            self.add("doc_drift_corrections", at, {
                "ts": iso(at), "doc": doc, "section": section, "claim": claim, "actual": actual,
                "correction": correction, "severity": severity, "commit": sha(doc + section, 7)})

    def escalations(self) -> None:
        clusters = [
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
        for i, (cls, model, analysis, target) in enumerate(clusters):
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
            out.append((at(0.5), '{"ts":"2026-04-15T10:02:11.000Z","ok":true,"permit_id":"CHI-BLD-1000001",'
                        '"analysis":"Contractor license lapsed on 2026-03-31 and', "invalid JSON (unterminated string)"))
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


STREAMS = (
    "mode_experiments", "scrum_reviews", "auto_apply", "audits", "audit_facts", "audit_lessons",
    "audit_discrepancies", "observer_escalations", "observer_reviews", "model_trust", "outcomes",
    "human_overrides", "overseer_corrections", "phase_sweep_findings", "doc_drift_corrections",
    "pathway_recommendations", "signatures", "classifications", "contract_analyses", "distilled_facts",
    "distilled_procedures", "distilled_config_hints",
)  # fmt: skip


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
