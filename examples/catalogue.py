"""Text catalogue of the example generator (examples/generate.py): models and the reviewed files.

Static data only: the model names, the 16 reviewed Rust/TS files and, per code pattern, the issue,
fix, patch, code excerpt and distilled texts the simulated reviews are built from. The run plans and
the texts of the other loops are in catalogue_loops.py.
"""

from __future__ import annotations

from typing import Any

WEAK, STRONG = "qwen2.5-coder:32b", ("gpt-oss:120b", "deepseek-v3.1", "kimi-k2:1t")
CLASSIFIER, EXTRACTOR, VERIFIER = "llama3.1:8b", "qwen2.5-coder:32b", "gpt-oss:120b"
USD_PER_1K = {WEAK: 0.0, "gpt-oss:120b": 0.0006, "deepseek-v3.1": 0.0009, "kimi-k2:1t": 0.0015}
BRANCH = "scrum/auto-apply-19814"
REVIEWERS = ("j.alvarez@devop.live", "profit", "priya.n@devop.live")

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
