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

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, Field

from mcp_distill.collect.repository import scored_run_records
from mcp_distill.errors import InvalidInputError, NotFoundError
from mcp_distill.models import EvidenceRecord, Playbook
from mcp_distill.progress import Progress
from mcp_distill.receipts import ReceiptBuilder, now_utc
from mcp_distill.search import repository as pb_db
from mcp_distill.search.embed import Embedder
from mcp_distill.search.index import Doc, Index
from mcp_distill.search.patterns import (
    NO_HARNESS,
    PATTERN_WORDS,
    SANDBOX_DIRS,
    SHARED_WORD_SHARE,
    TEMPLATE_DOMINANT_SHARE,
    TEMPLATE_MIN_PATTERNS,
    TEMPLATE_MIN_WORDS,
    Harness,
    RunView,
    component,
    harness_of,
    pattern_key,
    playbook_id,
    split_prompt,
    subject,
    task_family,
    task_text,
    template_lines,
    words,
)
from mcp_distill.search.playbook_build import EXAMPLE_CHARS, MAX_EXAMPLES, MAX_ITEMS, build_playbook, example_of
from mcp_distill.search.repository import playbook_task_types
from mcp_distill.search.strength import STRENGTHS, Strength, passes
from mcp_distill.store import Store


def _scored_runs(store: Store) -> Iterable[RunView]:
    """Every scored run with its records, one run at a time (memory bound by the largest run)."""
    current: RunView | None = None
    for run_key, category, reasons, votes, data in scored_run_records(store):
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
    for run in _scored_runs(store):
        n_runs += 1
        # only the evidence that matters for grouping and fields is kept per run
        groups.setdefault(pattern_key(run), []).append(run)
    existing = pb_db.playbook_keys(store)
    now = now_utc()
    harness = harness_of(groups)
    built: list[tuple[str, Playbook]] = []
    for i, key in enumerate(sorted(groups)):
        created = datetime.fromisoformat(existing[key]["created_at"]) if key in existing else now
        pb = build_playbook(key, groups[key], created, harness)
        if pb is not None:
            built.append((key, pb))
        if progress:
            progress(i + 1, len(groups), key)
    keep = {key for key, _ in built}
    gone = [existing[k]["playbook_id"] for k in existing if k not in keep]
    with store.atomic():
        pb_db.save_playbooks(store, built, gone, now.isoformat())
        store.set_meta(TEMPLATE_META_KEY, orjson.dumps(sorted(harness.lines)).decode())
    receipt.count_in = n_runs
    receipt.count_out = len(built)
    receipt.count("groups", len(groups))
    receipt.count("removed", len(gone))
    receipt.count("template_lines", len(harness.lines))
    result = receipt.finish(store, validation_pass=True)
    return {"runs": n_runs, "groups": len(groups), "playbooks": len(built), "removed": gone,
            "receipt_id": result.receipt_id, "playbook_ids": [pb.playbook_id for _, pb in built]}


#: Where extract_playbooks keeps the harness's prompt template (patterns.template_lines) for searches.
TEMPLATE_META_KEY = "playbook_prompt_template"


def prompt_template(store: Store) -> frozenset[str]:
    """The template lines the last extract found (none in a store extracted before they were kept)."""
    raw = store.get_meta(TEMPLATE_META_KEY)
    return _template_of(raw) if raw else frozenset()


@functools.lru_cache(maxsize=8)
def _template_of(raw: str) -> frozenset[str]:
    # Keyed by the stored JSON itself, so a new extract (a new value) is never served a stale template,
    # while each search of an unchanged store skips parsing the ~100 lines again.
    return frozenset(orjson.loads(raw))


def get_playbook(store: Store, pid: str) -> Playbook:
    data = pb_db.playbook_data(store, pid)
    if data is None:
        raise NotFoundError(f"no playbook {pid!r}; run extract_playbooks (`mcp-distill playbooks extract`), or find ids "
                            "with search_playbooks",
                            cli=f"no playbook {pid!r}; run `mcp-distill playbooks extract`, or find ids with "
                                "`mcp-distill playbooks search WORDS`")
    return Playbook.model_validate_json(data)


def all_playbooks(store: Store) -> list[Playbook]:
    return [Playbook.model_validate_json(d) for d in pb_db.all_playbook_data(store)]


def list_playbooks(store: Store, task_type: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[Playbook], int]:
    """One page of playbooks (optionally of one task type), most accepted runs first, and the total."""
    page, total = pb_db.playbook_page(store, task_type, limit, offset)
    return [Playbook.model_validate_json(d) for d in page], total


def playbooks_for_run(store: Store, run_key: str, limit: int = 20) -> list[Playbook]:
    """Playbooks built from ``run_key`` (it is one of their source runs)."""
    return [Playbook.model_validate_json(d) for d in pb_db.playbook_data_for_run(store, run_key, limit)]


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
    template_words: int = Field(0, description="Words of the query that are the loops' shared prompt template "
                                "(lines found in the prompts of three or more kinds of task), which the keyword "
                                "leg leaves out (and the vector leg too when they are most of the query).")


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
    report = index.upsert(docs, progress=progress)
    live = {pb.playbook_id for pb in books}
    stale = [doc_id for doc_id in index.ids() if doc_id not in live]
    removed = index.delete(stale) if stale else 0
    return {**report.model_dump(), "removed": removed}


def search_playbooks(store: Store, embedder: Embedder | None, query: str, k: int = 5, task_type: str | None = None,
                     tags: list[str] | None = None, mode: str = "hybrid", min_strength: str = "weak",
                     since: datetime | str | None = None, until: datetime | str | None = None,
                     exact: bool = False) -> PlaybookSearch:
    """Hybrid (default), keyword or semantic search over playbooks, with filters and explanations.

    ``exact=True`` makes the vector leg score every playbook by its float vector instead of the
    binary-code candidates (slower on a large index; see Index.search).

    ``since`` (inclusive) and ``until`` (exclusive) are ISO-8601 times (a date alone is midnight UTC)
    compared with when a playbook's runs were last seen; they apply inside both legs' queries.

    Hits whose match strength is below ``min_strength`` (``none`` keeps everything, ``weak`` the
    default, ``strong``) are dropped; when none is left, ``nothing_relevant`` says so rather than
    returning filler. Raises InvalidInputError for an unknown ``min_strength``.

    A long prompt is searched without the lines it shares with the prompts of other kinds of task (the
    loop's instructions: ``prompt_template``, kept by the last extract; see patterns.split_prompt).
    """
    if min_strength not in STRENGTHS:
        raise InvalidInputError(f"min_strength must be one of {', '.join(STRENGTHS)}, not {min_strength!r}")
    parts = split_prompt(query or "", prompt_template(store))
    result = Index(store, embedder, COLLECTION).search(parts.keyword_text, k=k, mode=mode, task_type=task_type,
                                                       tags=tags, since=since, until=until, exact=exact,
                                                       vector_query=parts.vector_text)
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
        # Worded for both faces: the MCP argument is min_strength, the CLI flag --min-strength.
        warnings.append(f"no playbook matches this task at minimum strength {min_strength!r}"
                        + (f" ({dropped} weaker hits left out; minimum strength 'none' shows them)" if dropped else "")
                        + ": no procedure is known for this kind of task yet")
    return PlaybookSearch(query=query, mode=result.mode, hits=hits, semantic_available=result.semantic_available,
                          warnings=warnings, min_strength=min_strength, nothing_relevant=nothing,  # type: ignore[arg-type]
                          dropped=dropped, template_words=parts.template_words)


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


__all__ = [
    "COLLECTION",
    "EXAMPLE_CHARS",
    "MAX_EXAMPLES",
    "MAX_ITEMS",
    "NO_HARNESS",
    "PATTERN_WORDS",
    "SANDBOX_DIRS",
    "SHARED_WORD_SHARE",
    "TEMPLATE_DOMINANT_SHARE",
    "TEMPLATE_META_KEY",
    "TEMPLATE_MIN_PATTERNS",
    "TEMPLATE_MIN_WORDS",
    "Harness",
    "PlaybookHit",
    "PlaybookSearch",
    "RunView",
    "all_playbooks",
    "build_playbook",
    "component",
    "example_of",
    "extract_playbooks",
    "get_playbook",
    "harness_of",
    "index_playbooks",
    "list_playbooks",
    "pattern_key",
    "playbook_doc",
    "playbook_id",
    "playbook_task_types",
    "playbook_text",
    "playbooks_for_run",
    "prompt_template",
    "render_for_prompt",
    "search_playbooks",
    "split_prompt",
    "subject",
    "task_family",
    "task_text",
    "template_lines",
    "words",
]
