"""Playbook Extractor: how a kind of task was solved before, built only from accepted runs.

Deterministic, no LLM. Scored runs are grouped by **task type and problem pattern**; every group
with at least one accepted run becomes a Playbook whose fields are read off the evidence:

- ``problem_pattern`` / pattern key: the run's task type plus its *task signature* — the component
  of the file it worked on (top two folders, sandbox roots and home folders left out:
  ``crates/gateway``), else the family of its task id without the instance number (``django`` of
  ``django__django-11099``, ``HumanEval`` of ``HumanEval/0``, ``mbpp`` of ``mbpp_234_volume_cube``),
  else its three most frequent content words. Never a raw id, so runs of the same kind merge into
  one playbook with success statistics, and a new task of a known kind has a playbook to find.
- ``commands_worked`` / ``commands_failed``: commands of accepted runs that did not fail, and
  commands that failed (non-zero exit / ``ok: false``) in any run of the group.
- ``known_failure_modes``: negative-vote reasons and failure markers of the group's rejected runs.
- ``acceptance_criteria``: the positive votes that accepted its runs; ``validation_steps``: checks
  that passed in accepted runs; ``model_routing_path``: models of accepted runs in time order.
- ``recovery_strategy`` / ``escalation_threshold``: from late acceptances (accepted on attempt N,
  or after a model switch).
- success statistics: accepted / scored runs of the group, and when it was last seen.

The id is a hash of the pattern key, so re-extraction keeps a playbook's id while its pattern
holds; a group that no longer has an accepted run loses its playbook.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, Field

from mcp_distill.errors import InvalidInputError, NotFoundError
from mcp_distill.models import EvidenceRecord, Playbook
from mcp_distill.receipts import ReceiptBuilder, now_utc
from mcp_distill.search.embed import Embedder
from mcp_distill.search.index import Doc, Index
from mcp_distill.search.strength import STRENGTHS, Strength, passes
from mcp_distill.store import Store
from mcp_distill.store.dialect import json_array_has, json_value

Progress = Callable[[int, int, str], None]

#: Most items kept per list field: playbooks are read mid-task, so they stay short.
MAX_ITEMS = 8
#: Content words that name a pattern when nothing structural does.
PATTERN_WORDS = 3
_WORD = re.compile(r"[a-z][a-z0-9_]{2,}")
_STOP = frozenset(
    "the and for with that this from are was were has have not but all any can its into out our you your "
    "they them then than there their will would should could been being also only more most such when where "
    "which while what who how why use used using run runs ran file files code line lines fix fixed issue "
    "error errors test tests make made new one two get set add added none null true false".split()
)


@dataclass
class RunView:
    run_key: str
    category: str
    reasons: list[str]
    votes: list[dict[str, Any]]
    records: list[EvidenceRecord] = field(default_factory=list)

    @property
    def task_type(self) -> str:
        for r in self.records:
            if r.task_type:
                return r.task_type
        return self.records[0].stream if self.records else "unknown"

    def first(self, attr: str) -> Any:
        for r in self.records:
            value = getattr(r, attr)
            if value:
                return value
        return None

    @property
    def last_seen(self) -> datetime | None:
        stamps = [r.timestamp for r in self.records if r.timestamp]
        return max(stamps) if stamps else None


def task_text(run: RunView) -> str:
    """The run's task as the agent was given it: its longest prompt (a classifier's or a router's
    copy is often only the first lines), else its longest text."""
    prompts = [r.input_text for r in run.records if r.input_text]
    if prompts:
        return max(prompts, key=len)
    texts = [r.text for r in run.records if r.text]
    return max(texts, key=len) if texts else ""


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


#: Folders that only say where an agent's sandbox or a user's home is, never which component:
#: left out of a path's component (``/workspace/app/x.py`` -> ``app``).
SANDBOX_DIRS = frozenset({"workspace", "testbed", "repo", "tmp", "mnt", "code", "project"})
_ID_SPLIT = re.compile(r"[-_/#:.@\s]+")


def component(path: str) -> str | None:
    """The component a file belongs to: its top two folders (``crates/gateway``) or its folder,
    with sandbox roots and home folders (``/home/USER``, ``/Users/name``) left out; None when
    nothing but a bare file name in a sandbox remains (no component to speak of)."""
    parts = [p for p in str(path).replace("\\", "/").split("/") if p and p != "."]
    sandboxed = False
    if len(parts) > 2 and parts[0].lower() in ("home", "users"):
        parts, sandboxed = parts[2:], True
    while parts and parts[0].lower() in SANDBOX_DIRS:
        parts, sandboxed = parts[1:], True
    if not parts or (sandboxed and len(parts) == 1):
        return None
    return "/".join(parts[:2]) if len(parts) > 2 else "/".join(parts[:-1]) or parts[-1]


def task_family(task_id: str) -> str | None:
    """What a task id says about the *kind* of task, without its instance number: the leading
    non-numeric parts when a number follows (``django__django-11099`` -> ``django``,
    ``HumanEval/0`` -> ``HumanEval``, ``mbpp_234_volume_cube`` -> ``mbpp``, ``CHI-BLD-1581469`` ->
    ``CHI-BLD``), else its first part (``safety-exfiltration`` -> ``safety``); None for an opaque
    id (a UUID, a hash)."""
    tokens = [t for t in _ID_SPLIT.split(str(task_id)) if t]
    head: list[str] = []
    for token in tokens:
        if any(c.isdigit() for c in token):
            break
        if not head or head[-1].casefold() != token.casefold():
            head.append(token)
    if not head:
        return None
    numbered = len(head) < len(tokens)
    return "-".join(head[:3]) if numbered else head[0]


def subject(run: RunView) -> str:
    """The structural subject of a run (see module docstring): the component of the file it
    worked on, else the family of its task id, else its three most frequent content words."""
    file_path = run.first("file_path") or next((f for r in run.records for f in r.source_files), None)
    if file_path and (part := component(str(file_path))):
        return part
    task_id = run.first("task_id")
    if task_id and (family := task_family(str(task_id))):
        return family
    text = " ".join(filter(None, (run.first("input_text"), run.first("text"), run.first("output_text"))))
    top = [w for w, _ in sorted(Counter(words(text)).items(), key=lambda kv: (-kv[1], kv[0]))[:PATTERN_WORDS]]
    return " ".join(sorted(top)) or "general"


def pattern_key(run: RunView) -> str:
    return f"{run.task_type}|{subject(run)}"


def playbook_id(key: str) -> str:
    return "pb-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _top(counter: Counter[str], n: int = MAX_ITEMS) -> list[str]:
    return [item for item, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n] if item]


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: Accepted runs quoted in a playbook's examples, and how long a quote may be.
MAX_EXAMPLES = 3
EXAMPLE_CHARS = 280


def example_of(run: RunView) -> str | None:
    """How the run solved it, in a few words: a distilled procedure, else a finding, else its output."""
    texts = [r.text for r in run.records if r.text and "procedure" in r.stream]
    texts += [r.text for r in run.records if r.text and len(r.text) > 40]
    texts += [r.output_text for r in run.records if r.output_text]
    return _short(texts[0], EXAMPLE_CHARS) if texts else None


def build_playbook(key: str, runs: list[RunView], created_at: datetime) -> Playbook | None:
    """One group's playbook, or None when no run of the group was accepted. Pure."""
    runs = sorted(runs, key=lambda r: r.run_key)
    accepted = [r for r in runs if r.category == "accepted"]
    if not accepted:
        return None
    rejected = [r for r in runs if r.category == "rejected"]
    scored = [r for r in runs if r.category in ("accepted", "partially_accepted", "rejected")]
    task_type, subj = key.split("|", 1)

    worked: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for run in runs:
        for rec in run.records:
            for cmd in rec.commands_run:
                bad = cmd.ok is False or (cmd.exit_code not in (None, 0))
                if bad:
                    failed[_short(cmd.command, 160)] += 1
                elif run.category == "accepted":
                    worked[_short(cmd.command, 160)] += 1
    context = Counter(_short(c, 120) for r in accepted for rec in r.records for c in rec.retrieved_context)
    files = Counter(f for r in accepted for rec in r.records for f in [rec.file_path, *rec.source_files] if f)
    checks = Counter(v.name for r in accepted for rec in r.records for v in rec.validation_results if v.passed)
    criteria = Counter(_short(v["detail"]) for r in accepted for v in r.votes if v.get("vote") == "positive")
    failures: Counter[str] = Counter()
    for run in rejected:
        for v in run.votes:
            if v.get("vote") == "negative":
                failures[_short(v["detail"])] += 1
        for rec in run.records:
            failures.update(_short(m) for m in rec.failure_markers)

    routing: Counter[tuple[str, ...]] = Counter()
    late_attempts: list[int] = []
    for run in accepted:
        ordered = sorted((r for r in run.records if r.model_name), key=lambda r: (r.timestamp is None, r.timestamp))
        path: list[str] = []
        for rec in ordered:
            if rec.model_name not in path:
                path.append(rec.model_name)
            if rec.signals.accepted_on_attempt:
                late_attempts.append(rec.signals.accepted_on_attempt)
        if path:
            routing[tuple(path)] += 1
    best_path = list(sorted(routing.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]) if routing else []

    recovery = None
    if late_attempts and max(late_attempts) > 1:
        recovery = (f"Accepted on attempt {min(a for a in late_attempts if a > 1)}-{max(late_attempts)} in "
                    f"{sum(a > 1 for a in late_attempts)} of {len(accepted)} accepted run(s): retry with the "
                    "reviewer's findings" + (f", escalating {' -> '.join(best_path)}" if len(best_path) > 1 else ""))
    elif len(best_path) > 1:
        recovery = f"Escalate models in order: {' -> '.join(best_path)}"
    threshold = None
    if late_attempts:
        threshold = f"escalate after {max(late_attempts) - 1 if max(late_attempts) > 1 else 1} failed attempt(s)"
    elif rejected:
        threshold = f"needs a human after a rejection like: {_top(failures, 1)[0]}" if failures else None

    text_words = Counter(w for r in accepted for rec in r.records
                         for w in words(" ".join(filter(None, (rec.input_text, rec.text)))[:4000]))
    keywords = _top(text_words, 5)
    problem = f"{task_type} on {subj}" + (f": {', '.join(keywords)}" if keywords else "")
    last_seen = max((r.last_seen for r in runs if r.last_seen), default=None)
    tags = sorted({task_type, subj, *best_path} - {""})
    return Playbook(
        playbook_id=playbook_id(key),
        task_type=task_type,
        problem_pattern=problem,
        title=f"{task_type}: {subj}",
        useful_context=_top(context),
        model_routing_path=best_path,
        commands_worked=_top(worked),
        commands_failed=_top(failed),
        validation_steps=_top(checks),
        repo_files_touched=_top(files),
        recovery_strategy=recovery,
        known_failure_modes=_top(failures),
        escalation_threshold=threshold,
        acceptance_criteria=_top(criteria),
        examples=list(dict.fromkeys(e for e in map(example_of, accepted) if e))[:MAX_EXAMPLES],
        source_run_ids=[r.run_key for r in accepted],
        tags=tags,
        success_count=len(accepted),
        attempt_count=len(scored),
        success_rate=round(len(accepted) / len(scored), 4) if scored else 0.0,
        last_seen=last_seen,
        created_at=created_at,
    )


def _scored_runs(store: Store) -> Iterable[RunView]:
    """Every scored run with its records, one run at a time (memory bound by the largest run)."""
    current: RunView | None = None
    cursor = store.conn.execute(
        "SELECT s.run_key, s.category, s.reasons, s.votes, e.data FROM scores s "
        "JOIN evidence e ON e.run_key = s.run_key ORDER BY s.run_key, e.ts_epoch, e.id")
    for run_key, category, reasons, votes, data in cursor:
        if current is None or current.run_key != run_key:
            if current is not None:
                yield current
            current = RunView(run_key, category, orjson.loads(reasons), orjson.loads(votes))
        current.records.append(EvidenceRecord.model_validate_json(data))
    if current is not None:
        yield current


def playbook_text(pb: Playbook) -> str:
    """What the keyword and vector legs index for a playbook."""
    # What says which kind of task this is (pattern, files, how it was solved) comes first: the
    # embedder reads only the first 256 word pieces of a document.
    parts = [pb.problem_pattern, *pb.repo_files_touched, *pb.examples, *pb.acceptance_criteria, *pb.commands_worked,
             *pb.validation_steps, *pb.known_failure_modes, *pb.useful_context,
             pb.recovery_strategy or "", " ".join(pb.model_routing_path)]
    return "\n".join(p for p in parts if p)


def extract_playbooks(store: Store, progress: Progress | None = None, command: str = "extract") -> dict[str, Any]:
    """Rebuild every playbook from the current scores. Idempotent; ids are stable per pattern."""
    receipt = ReceiptBuilder("playbooks", command)
    groups: dict[str, list[RunView]] = {}
    n_runs = 0
    with store.lock:
        for run in _scored_runs(store):
            n_runs += 1
            # only the evidence that matters for grouping and fields is kept per run
            groups.setdefault(pattern_key(run), []).append(run)
    existing = {r["pattern_key"]: r for r in store.query("SELECT playbook_id, pattern_key, created_at FROM playbooks")}
    now = now_utc()
    built: list[tuple[str, Playbook]] = []
    for i, key in enumerate(sorted(groups)):
        created = datetime.fromisoformat(existing[key]["created_at"]) if key in existing else now
        pb = build_playbook(key, groups[key], created)
        if pb is not None:
            built.append((key, pb))
        if progress:
            progress(i + 1, len(groups), key)
    keep = {key for key, _ in built}
    with store.write() as db:
        for key, pb in built:
            db.conn.execute(
                "INSERT INTO playbooks(playbook_id, task_type, pattern_key, data, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(pattern_key) DO UPDATE SET data = excluded.data, "
                "updated_at = excluded.updated_at",
                (pb.playbook_id, pb.task_type, key, pb.model_dump_json(), pb.created_at.isoformat(), now.isoformat()))
        gone = [existing[k]["playbook_id"] for k in existing if k not in keep]
        db.conn.executemany("DELETE FROM playbooks WHERE playbook_id = ?", [(g,) for g in gone])
    receipt.count_in = n_runs
    receipt.count_out = len(built)
    receipt.count("groups", len(groups))
    receipt.count("removed", len(gone))
    result = receipt.finish(store, validation_pass=True)
    return {"runs": n_runs, "groups": len(groups), "playbooks": len(built), "removed": gone,
            "receipt_id": result.receipt_id, "playbook_ids": [pb.playbook_id for _, pb in built]}


def get_playbook(store: Store, pid: str) -> Playbook:
    row = store.query_one("SELECT data FROM playbooks WHERE playbook_id = ?", (pid,))
    if row is None:
        raise NotFoundError(f"no playbook {pid!r}; run `mcp-distill playbooks extract` or search with search_playbooks")
    return Playbook.model_validate_json(row["data"])


def all_playbooks(store: Store) -> list[Playbook]:
    return [Playbook.model_validate_json(r["data"]) for r in
            store.query("SELECT data FROM playbooks ORDER BY playbook_id")]


def list_playbooks(store: Store, task_type: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[Playbook], int]:
    """One page of playbooks (optionally of one task type), most accepted runs first, and the total."""
    where, params = (" WHERE task_type = ?", (task_type,)) if task_type else ("", ())
    successes = json_value(store.dialect, "data", "success_count")
    rows = store.query(f"SELECT data FROM playbooks{where} ORDER BY {successes} DESC, "
                       "playbook_id LIMIT ? OFFSET ?", (*params, limit, offset))
    total = store.query_one(f"SELECT count(*) AS n FROM playbooks{where}", params)
    return [Playbook.model_validate_json(r["data"]) for r in rows], int(total["n"]) if total else 0


def playbooks_for_run(store: Store, run_key: str, limit: int = 20) -> list[Playbook]:
    """Playbooks built from ``run_key`` (it is one of their source runs)."""
    rows = store.query(f"SELECT data FROM playbooks WHERE {json_array_has(store.dialect, 'data', 'source_run_ids')} "
                       "ORDER BY playbook_id LIMIT ?", (run_key, limit))
    return [Playbook.model_validate_json(r["data"]) for r in rows]


def playbook_task_types(store: Store) -> list[str]:
    return [r["task_type"] for r in store.query("SELECT DISTINCT task_type FROM playbooks ORDER BY task_type")]


COLLECTION = "playbooks"


class PlaybookHit(BaseModel):
    """A playbook found for a query, with why it ranked (each leg's rank and score) and how strong a
    match it is (mcp_distill.search.strength: comparable across queries and collections)."""

    playbook: Playbook
    score: float
    keyword_rank: int | None
    keyword_score: float | None
    vector_rank: int | None
    vector_similarity: float | None
    matched_fields: list[str]
    strength: float = 0.0
    match: Strength = "none"
    vector_z: float | None = None
    keyword_coverage: float | None = None


class PlaybookSearch(BaseModel):
    query: str
    mode: str
    hits: list[PlaybookHit]
    semantic_available: bool
    warnings: list[str]
    min_strength: Strength = "weak"
    nothing_relevant: bool = Field(False, description="True when no playbook matched at min_strength: "
                                   "no procedure is known for this kind of task yet.")
    dropped: int = Field(0, description="Hits left out for a match strength below min_strength.")


def playbook_doc(pb: Playbook) -> Doc:
    """The search document of a playbook."""
    return Doc(id=pb.playbook_id, title=pb.title or pb.problem_pattern, text=playbook_text(pb), tags=pb.tags,
               task_type=pb.task_type, source="playbooks", ts=pb.last_seen or pb.created_at,
               metadata={"success_rate": pb.success_rate, "success_count": pb.success_count})


def index_playbooks(store: Store, embedder: Embedder | None, progress: Progress | None = None) -> dict[str, Any]:
    """Bring the search index in line with the playbooks table (unchanged documents are skipped)."""
    index = Index(store, embedder, COLLECTION)
    books = all_playbooks(store)
    docs = [playbook_doc(pb) for pb in books]
    report = index.upsert(docs, progress=(lambda done, total: progress(done, total or 0, "index")) if progress else None)
    live = {pb.playbook_id for pb in books}
    stale = [doc_id for doc_id in index.ids() if doc_id not in live]
    removed = index.delete(stale) if stale else 0
    return {**report.model_dump(), "removed": removed}


def search_playbooks(store: Store, embedder: Embedder | None, query: str, k: int = 5, task_type: str | None = None,
                     tags: list[str] | None = None, mode: str = "hybrid", min_strength: str = "weak") -> PlaybookSearch:
    """Hybrid (default), keyword or semantic search over playbooks, with filters and explanations.

    Hits whose match strength is below ``min_strength`` (``none`` keeps everything, ``weak`` the
    default, ``strong``) are dropped; when none is left, ``nothing_relevant`` says so rather than
    returning filler. Raises InvalidInputError for an unknown ``min_strength``.
    """
    if min_strength not in STRENGTHS:
        raise InvalidInputError(f"min_strength must be one of {', '.join(STRENGTHS)}, not {min_strength!r}")
    result = Index(store, embedder, COLLECTION).search(query, k=k, mode=mode, task_type=task_type, tags=tags)
    hits = []
    dropped = 0
    for hit in result.hits:
        if not passes(hit.match, min_strength):  # type: ignore[arg-type]
            dropped += 1
            continue
        try:
            pb = get_playbook(store, hit.id)
        except NotFoundError:
            continue  # indexed but since removed: the next index run drops it
        hits.append(PlaybookHit(playbook=pb, score=hit.score, keyword_rank=hit.keyword_rank,
                                keyword_score=hit.keyword_score, vector_rank=hit.vector_rank,
                                vector_similarity=hit.vector_similarity, matched_fields=hit.matched_fields,
                                strength=hit.strength, match=hit.match, vector_z=hit.vector_z,
                                keyword_coverage=hit.keyword_coverage))
    warnings = list(result.warnings)
    nothing = not hits and bool(query.strip())
    if nothing:
        warnings.append(f"no playbook matches this task at min_strength={min_strength!r}"
                        + (f" ({dropped} weaker hits left out; pass min_strength='none' to see them)" if dropped else "")
                        + ": no procedure is known for this kind of task yet")
    return PlaybookSearch(query=query, mode=result.mode, hits=hits, semantic_available=result.semantic_available,
                          warnings=warnings, min_strength=min_strength, nothing_relevant=nothing,  # type: ignore[arg-type]
                          dropped=dropped)


def render_for_prompt(task: str, found: PlaybookSearch) -> str:
    """The best playbooks for a task as one ready-to-use message (the ``apply_playbook`` prompt)."""
    if not found.hits:
        return (f"Task: {task}\n\nNo playbook matches this kind of task yet (nothing reached match strength "
                f"{found.min_strength!r}). Work it out, and once the run is accepted, "
                "`extract_playbooks` will distil it for next time.")
    lines = [f"Task: {task}", "", "Playbooks from accepted runs of similar tasks (best first):"]
    for n, hit in enumerate(found.hits, 1):
        pb = hit.playbook
        lines += ["", f"## {n}. {pb.title} ({pb.success_count}/{pb.attempt_count} accepted; {hit.match} match)",
                  f"Pattern: {pb.problem_pattern}"]
        lines += [f"Example: {e}" for e in pb.examples]
        for label, items in (("Acceptance criteria", pb.acceptance_criteria), ("Commands that worked", pb.commands_worked),
                             ("Commands that failed", pb.commands_failed), ("Validate with", pb.validation_steps),
                             ("Known failure modes", pb.known_failure_modes), ("Files", pb.repo_files_touched),
                             ("Useful context", pb.useful_context)):
            if items:
                lines.append(f"{label}: " + "; ".join(items))
        if pb.model_routing_path:
            lines.append("Model routing: " + " -> ".join(pb.model_routing_path))
        if pb.recovery_strategy:
            lines.append(f"Recovery: {pb.recovery_strategy}")
        if pb.escalation_threshold:
            lines.append(f"Escalation: {pb.escalation_threshold}")
    lines += ["", "Follow the acceptance criteria; avoid the known failure modes."]
    return "\n".join(lines)
