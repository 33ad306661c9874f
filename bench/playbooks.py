"""Playbook retrieval for tasks never seen before: leave-one-out / k-fold over real and generated KBs.

    .venv/bin/python bench/playbooks.py                       # bundled KB, 200- and 500-run KBs, real traces
    .venv/bin/python bench/playbooks.py --kb generated:400    # one KB (bundled | generated:N | a folder)
    .venv/bin/python bench/playbooks.py --tune                # also the train-split grids

Protocol. A KB is collected and scored into a fresh store, runs are grouped into playbooks by the
extractor's own pattern key (task type + task signature, mcp_distill.search.playbooks) and every
playbook is indexed. Each accepted run that has a task text is a query: the run is held out (its
playbook rebuilt from the other runs of its group, or removed when it was the only accepted one),
the query is its task text only (the longest prompt of the run), and the right answer is the
playbook of its pattern. Leave-one-out up to LOO_MAX queries, else FOLDS-fold (all runs of a fold
held out together). Queries whose playbook vanishes with them have no right answer: the honest
result for them is "no match". Junk queries (bench/data/junk_queries.txt, unrelated to any KB)
measure the same from the other side. Every query set is split by a hash of its id (of its text
when the id hashes a path) into a train half (constants of mcp_distill/search/query.py and strength.py
are chosen there, `--tune`) and a held-out half; both are printed, and docs/benchmarks.md gets the held-out figures.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import ROOT, cached_embedder, log, machine, mean, write_section

from mcp_distill.collect.collector import collect_paths
from mcp_distill.config import Settings
from mcp_distill.receipts import now_utc
from mcp_distill.score import load_rules, score_runs
from mcp_distill.search import query as search_query
from mcp_distill.search import strength as search_strength
from mcp_distill.search.index import Index
from mcp_distill.search.playbooks import (
    COLLECTION,
    NO_HARNESS,
    SHARED_WORD_SHARE,
    TEMPLATE_DOMINANT_SHARE,
    TEMPLATE_MIN_PATTERNS,
    TEMPLATE_MIN_WORDS,
    RunView,
    _scored_runs,
    build_playbook,
    harness_of,
    pattern_key,
    playbook_doc,
    playbook_id,
    split_prompt,
    task_text,
)
from mcp_distill.search.strength import passes
from mcp_distill.store import open_store

MODES = ("keyword", "semantic", "hybrid")
SECTION = "Playbook retrieval (leave-one-out)"
JUNK = ROOT / "bench" / "data" / "junk_queries.txt"
REAL = ROOT.parent / "shared" / "data" / "real"
LOO_MAX = 150
FOLDS = 10
DEPTH = 50
K = 10
MAX_TERMS: int | None = None
NO_TEMPLATE = False  # --no-template: queries searched whole (the ablation of split_prompt)


#: Run keys derived from a record id or a file name, which hash the source file's absolute path: the
#: same run gets another key in another checkout or temporary folder.
PATH_KEYS = ("rec:", "file:")


def stable_hash(key: str, text: str = "") -> bytes:
    """A hash of the query's id, or of its text when the id hashes a path (see PATH_KEYS): the same
    for a query across runs, folders and machines."""
    stable = f"text:{text}" if key.startswith(PATH_KEYS) else key
    return hashlib.sha256(stable.encode()).digest()


def split_of(key: str, text: str = "") -> str:
    """train / test by the query's stable hash."""
    return "train" if stable_hash(key, text)[0] % 2 == 0 else "test"


@dataclass
class Outcome:
    """One query's results: per mode the ranked playbook ids and each hit's (match, strength)."""

    key: str
    split: str
    right: str | None  # the right playbook id; None when the query has no right answer
    ranked: dict[str, list[str]] = field(default_factory=dict)
    labels: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)  # match, strength, z, coverage, ranks
    legs: dict[str, list[str]] = field(default_factory=dict)  # keyword / vector rankings at DEPTH
    n_terms: int = 0  # keyword terms the query kept


# ----------------------------------------------------------------------------- KBs


def kb_folder(spec: str, workdir: Path) -> Path:
    if spec == "bundled":
        return ROOT / "examples" / "lakehouse_kb"
    if spec == "real":
        return REAL
    if spec.startswith("generated:"):
        gen_path = ROOT / "examples" / "generate.py"
        module_spec = importlib.util.spec_from_file_location("kb_generate", gen_path)
        assert module_spec and module_spec.loader
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        out = workdir / spec.replace(":", "_")
        module.generate(out, int(spec.split(":", 1)[1]))
        return out
    return Path(spec)


def load_runs(folder: Path, workdir: Path) -> tuple[Any, dict[str, list[RunView]]]:
    db = workdir / f"{abs(hash(str(folder)))}.db"
    store = open_store(db)
    collect_paths(store, Settings(db_path=db, roots=[folder, workdir]), [str(folder)])
    score_runs(store, load_rules())
    groups: dict[str, list[RunView]] = {}
    with store.lock:
        for run in _scored_runs(store):
            groups.setdefault(pattern_key(run), []).append(run)
    return store, groups


# ----------------------------------------------------------------------------- evaluation


def evaluate_kb(spec: str, workdir: Path, junk: list[str]) -> dict[str, Any]:
    folder = kb_folder(spec, workdir)
    store, groups = load_runs(folder, workdir)
    created = now_utc()
    index = Index(store, cached_embedder(), COLLECTION)
    if MAX_TERMS is not None:  # a tuning run (--max-terms)
        index.keyword.max_terms = MAX_TERMS
    harness = NO_HARNESS if NO_TEMPLATE else harness_of(groups)
    template = harness.lines
    books = {key: pb for key in groups if (pb := build_playbook(key, groups[key], created, harness)) is not None}
    index.upsert([playbook_doc(pb) for pb in books.values()])
    queries = [(run.run_key, key) for key, runs in sorted(groups.items()) for run in runs
               if run.category == "accepted" and task_text(run).strip()]
    texts = {run.run_key: task_text(run) for runs in groups.values() for run in runs}
    # Folds by position in the stable-hash order, so that every run holds out the same groups.
    queries.sort(key=lambda qk: stable_hash(qk[0], texts[qk[0]]))
    n_folds = len(queries) if len(queries) <= LOO_MAX else FOLDS
    log(f"{spec}: {sum(len(r) for r in groups.values())} runs, {len(books)} playbooks, {len(queries)} queries, "
        f"{n_folds} folds")
    outcomes: list[Outcome] = []
    for fold in range(n_folds):
        held = [(q, key) for i, (q, key) in enumerate(queries) if i % n_folds == fold]
        touched = {key for _, key in held}
        out = {q for q, _ in held}
        changed: dict[str, Any] = {}
        # the prompt template as extract_playbooks would find it without the held-out runs
        fold_harness = NO_HARNESS if NO_TEMPLATE else harness_of(
            {k: [r for r in rs if r.run_key not in out] for k, rs in groups.items()})
        fold_template = fold_harness.lines
        for key in touched:
            pb = build_playbook(key, [r for r in groups[key] if r.run_key not in out], created, fold_harness)
            changed[key] = pb
        index.delete([playbook_id(k) for k, pb in changed.items() if pb is None])
        index.upsert([playbook_doc(pb) for pb in changed.values() if pb is not None])
        for q, key in held:
            right = playbook_id(key) if changed[key] is not None else None
            outcomes.append(run_query(index, q, split_of(q, texts[q]), right, texts[q], fold_template))
        index.upsert([playbook_doc(books[k]) for k in touched if k in books])  # restore
    junk_out = [run_query(index, f"junk:{i}", split_of(f"junk:{i}"), None, text, template)
                for i, text in enumerate(junk)]
    store.close()
    return {"kb": spec, "runs": sum(len(r) for r in groups.values()), "raw_id_playbooks": raw_id_playbooks(groups),
            "accepted": sum(r.category == "accepted" for rs in groups.values() for r in rs),
            "playbooks": len(books), "queries": outcomes, "junk": junk_out, "folds": n_folds}


def raw_id_playbooks(groups: dict[str, list[RunView]]) -> int:
    """Playbooks the extractor would make if runs were grouped by their raw task id (the grouping
    before task signatures; a run without a task id is its own group): groups with an accepted run."""
    raw: dict[str, bool] = {}
    for runs in groups.values():
        for run in runs:
            key = f"{run.task_type}|{run.first('task_id') or run.run_key}"
            raw[key] = raw.get(key, False) or run.category == "accepted"
    return sum(raw.values())


def run_query(index: Index, key: str, split: str, right: str | None, text: str,
              template: frozenset[str] = frozenset()) -> Outcome:
    """The query as search_playbooks reads it (split_prompt: the template left out where it applies)."""
    outcome = Outcome(key=key, split=split, right=right)
    parts = split_prompt(text, template)
    for mode in MODES:
        result = index.search(parts.keyword_text, k=DEPTH if mode != "hybrid" else K, mode=mode, explain=False,
                              vector_query=parts.vector_text)
        outcome.ranked[mode] = [h.id for h in result.hits][:K]
        outcome.labels[mode] = [(h.match, h.strength, h.vector_z, h.keyword_coverage, h.keyword_rank, h.vector_rank)
                                for h in result.hits][:K]
        if mode != "hybrid":
            outcome.legs[mode] = [h.id for h in result.hits]
        if mode == "keyword":
            outcome.n_terms = len(result.keyword_terms)
    return outcome


# ----------------------------------------------------------------------------- metrics


def rank_of(ranked: list[str], right: str | None) -> int | None:
    return ranked.index(right) + 1 if right in ranked else None


def metrics(outcomes: list[Outcome], ranked_of: Callable[[Outcome], list[str]]) -> dict[str, float]:
    answerable = [o for o in outcomes if o.right is not None]
    ranks = [rank_of(ranked_of(o), o.right) for o in answerable]
    return {"n": len(answerable), "top1": round(mean(r == 1 for r in ranks), 4),
            "mrr@10": round(mean((1 / r if r and r <= 10 else 0.0) for r in ranks), 4)}


def gated(outcomes: list[Outcome], junk: list[Outcome], min_strength: str = "weak") -> dict[str, float]:
    """At a min_strength: share of answerable queries whose right playbook is still returned (top 5 /
    top 1), share of unanswerable and junk queries returning nothing."""
    def kept(o: Outcome) -> list[str]:
        return [pid for pid, lab in zip(o.ranked["hybrid"], o.labels["hybrid"], strict=True)
                if passes(lab[0], min_strength)]  # type: ignore[arg-type]
    answerable = [o for o in outcomes if o.right is not None]
    orphans = [o for o in outcomes if o.right is None]
    return {"right_returned@5": round(mean(o.right in kept(o)[:5] for o in answerable), 4),
            "right_top1": round(mean(kept(o)[:1] == [o.right] for o in answerable), 4),
            "no_answer_empty": round(mean(not kept(o) for o in orphans), 4) if orphans else float("nan"),
            "n_no_answer": len(orphans),
            "junk_empty": round(mean(not kept(o) for o in junk), 4) if junk else float("nan"), "n_junk": len(junk)}


def summary(result: dict[str, Any], split: str) -> dict[str, Any]:
    qs = [o for o in result["queries"] if o.split == split]
    junk = [o for o in result["junk"] if o.split == split]
    out: dict[str, Any] = {mode: metrics(qs, lambda o, m=mode: o.ranked[m]) for mode in MODES}
    out["gate_weak"] = gated(qs, junk, "weak")
    out["gate_strong"] = gated(qs, junk, "strong")
    return out


# ----------------------------------------------------------------------------- report


def rule_check(results: list[dict[str, Any]]) -> str:
    """Where hybrid's top-1 or MRR@10 is below a leg's (the issue's rule), per KB and half."""
    broken = []
    for r in results:
        for split in ("test", "train"):
            s = summary(r, split)
            for leg in ("keyword", "semantic"):
                for metric in ("top1", "mrr@10"):
                    if s["hybrid"][metric] < s[leg][metric]:
                        broken.append(f"{r['kb']} {split} {metric} {s['hybrid'][metric]:.3f} < {leg} {s[leg][metric]:.3f}")
    return ("hybrid >= each leg (top-1 and MRR@10) on every KB and both halves" if not broken else
            "hybrid >= each leg (top-1 and MRR@10) everywhere except: " + "; ".join(broken))


def table(results: list[dict[str, Any]], split: str) -> str:
    lines = ["| KB | runs / accepted / playbooks | queries (folds) | mode | top-1 | MRR@10 |", "|---|---|---|---|---|---|"]
    for r in results:
        s = summary(r, split)
        for mode in MODES:
            lines.append(f"| {r['kb']} | {r['runs']} / {r['accepted']} / {r['playbooks']} | {s[mode]['n']} "
                         f"({r['folds']}) | {mode} | {s[mode]['top1']:.3f} | {s[mode]['mrr@10']:.3f} |")
    lines += ["", "| KB | min_strength | right playbook returned (top 5) | right at top 1 | no-answer queries "
              "empty | junk queries empty |", "|---|---|---|---|---|---|"]
    for r in results:
        s = summary(r, split)
        for gate in ("weak", "strong"):
            g = s[f"gate_{gate}"]
            lines.append(f"| {r['kb']} | {gate} | {g['right_returned@5']:.3f} | {g['right_top1']:.3f} | "
                         f"{g['no_answer_empty']:.3f} (of {g['n_no_answer']}) | {g['junk_empty']:.3f} "
                         f"(of {g['n_junk']}) |")
    return "\n".join(lines)


def pattern_table(results: list[dict[str, Any]]) -> str:
    """Playbooks per accepted run with runs grouped by raw task id (before) and by pattern (after)."""
    lines = ["| KB | accepted runs | playbooks grouped by raw task id (before) | by task signature (after) | "
             "per accepted run before / after |", "|---|---|---|---|---|"]
    for r in results:
        before, after, accepted = r["raw_id_playbooks"], r["playbooks"], max(r["accepted"], 1)
        lines.append(f"| {r['kb']} | {r['accepted']} | {before} | {after} | {before / accepted:.2f} / "
                     f"{after / accepted:.2f} |")
    return "\n".join(lines)


def report(results: list[dict[str, Any]], argv: list[str]) -> str:
    from playbooks_tune import losses  # it imports this module
    return f"""Measured by `bench/playbooks.py` through the project's own extractor and index ({machine()};
quality figures, which load does not change). Query = the held-out run's task text only; right answer = the
playbook of its pattern rebuilt without it. Held-out half of every query set (split by a hash of the run id;
constants were chosen on the other half with `--tune`):

{table(results, "test")}

Train half (for comparison):

{table(results, "train")}

Rule check: {rule_check(results)}.

Per query, where hybrid ranks the right playbook below one of its legs, and every real-trace query (both
halves; `-` = not among the first 50 of a leg or the first 10 of hybrid):

{chr(10).join(losses(results)) or "(none)"}

Playbooks per accepted run (the pattern-generalisation item): the same runs grouped by their raw task id
(the grouping before task signatures, a run without a task id alone) and by the extractor's pattern key
(task type + task signature):

{pattern_table(results)}

- Fusion: RRF k={search_query.RRF_K:g}, weights keyword {search_query.KEYWORD_WEIGHT:g} / vector
  {search_query.VECTOR_WEIGHT:g} (the same constants as the SciFact section), the keyword weight falling as
  ({search_query.LONG_QUERY_TERMS}/n)^{search_query.LONG_QUERY_POWER:g} for a query of n >
  {search_query.LONG_QUERY_TERMS} keyword terms (a long prompt: these queries keep ~25-130 terms; SciFact
  claims a handful); equal fused scores go to the hit with the strongest single weighted leg contribution
  (mcp_distill/search/query.py `rrf_fuse`; docs/retrieval.md says why). Long queries are embedded as
  windows of {search_query.EMBED_WINDOW_WORDS} words, vectors averaged. Keyword terms: every query term by
  document frequency from fts5vocab, boilerplate (in more than {search_query.MAX_DF_RATIO:g} of the
  documents) and absent terms dropped, rarest first within {search_query.POSTINGS_BUDGET} postings, at most
  {search_query.MAX_QUERY_TERMS} terms.
- Prompt template: a line repeated in the task texts of {TEMPLATE_MIN_PATTERNS} or more patterns (of at least
  {TEMPLATE_MIN_WORDS} words) is the loops' template, learned per fold without the held-out runs (extract_playbooks
  keeps it in the store for search_playbooks). The keyword leg searches the query without it; the vector leg too
  when it is more than {TEMPLATE_DOMINANT_SHARE:g} of the query's words (mcp_distill/search/patterns.py
  `split_prompt`). That share was set between the template shares seen over all queries (generated and bundled
  KBs <= 0.50, real SWE-bench prompts 0.66-0.83), not by a metric; `--no-template` is the ablation.
  A playbook's keywords (its problem pattern) are drawn from its tasks without the template lines and without
  the words in the tasks of more than {SHARED_WORD_SHARE:g} of the patterns (a harness's `<task>` tag): before that
  they named the harness ("command, instructions, step, task") and the keyword leg could not tell playbooks
  apart (`patterns.harness_of`; against the previous extractor, same run: held-out hybrid top-1 bundled
  0.895 -> 0.842 (one query of 19), generated:500 0.958 -> 0.971, real MRR@10 0.583 -> 0.667; train half
  generated:500 0.981 -> 0.986, the others unchanged).
- Strength: `e = z + {search_strength.C_WEIGHT:g} x coverage`, strength `clip((e - {search_strength.E_ZERO:g}) /
  ({search_strength.E_FULL:g} - {search_strength.E_ZERO:g}), 0, 1)`; strong from {search_strength.STRONG_AT:g}, weak from
  {search_strength.WEAK_AT:g} (mcp_distill/search/strength.py, docs/retrieval.md). The default `min_strength` of
  search_playbooks is weak (drops "none"). "Right playbook returned" counts it among the first 5 hits left at that
  strength; "no-answer queries" are held-out runs that were the only accepted run of their pattern (their
  playbook vanishes with them: what is returned is a related playbook, not "the" right one).
- Real traces (../shared/data/real): only {real_note(results)}; nothing was tuned on them, and with
  so few queries one query moves MRR by 0.25 or more.
- Junk queries: {len(load_junk())} queries in bench/data/junk_queries.txt, unrelated to any KB here.

Reproduce: `.venv/bin/python bench/playbooks.py {' '.join(argv)}`.
"""


def real_note(results: list[dict[str, Any]]) -> str:
    real = next((r for r in results if r["kb"] == "real"), None)
    if real is None:
        return "not measured (the folder is absent)"
    answerable = sum(o.right is not None for o in real["queries"])
    return (f"{len(real['queries'])} of the {real['accepted']} accepted runs carry a task text, {answerable} of them with "
            "a right answer. The others cannot: their traces hold no task. 56 are SWE-bench runs known only "
            "from preds.json (instance id + patch) and the harness's report.json / summary (test results), "
            "with no trajectory, so no issue text or problem_statement (the 5 with a trajectory give theirs, "
            "the first user message); 5 are OpenAgentSafety runs whose traj_*.json starts with the agent's "
            "first action (no user MessageEvent; output.jsonl's instruction covers 2 other tasks). Using the "
            "patch instead would put the answer (the files changed) into the query")


def load_junk() -> list[str]:
    return [line.strip() for line in JUNK.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", action="append", help="bundled | generated:N | real | a folder (repeatable)")
    parser.add_argument("--tune", action="store_true", help="print the train-split grids")
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument("--dump", type=Path, help="write every query's outcome as JSON here")
    parser.add_argument("--max-terms", type=int, help="tuning: keyword terms cap (default MAX_QUERY_TERMS)")
    parser.add_argument("--no-template", action="store_true",
                        help="search each query whole, without split_prompt's template removal (ablation)")
    args = parser.parse_args(argv)
    from playbooks_tune import losses, tune  # it imports this module
    global MAX_TERMS, NO_TEMPLATE
    MAX_TERMS = args.max_terms
    NO_TEMPLATE = args.no_template
    specs = args.kb or ["bundled", "generated:200", "generated:500", *(["real"] if REAL.exists() else [])]
    junk = load_junk()
    results = []
    with tempfile.TemporaryDirectory(prefix="mcp-distill-pb-") as tmp:
        for spec in specs:
            results.append(evaluate_kb(spec, Path(tmp), junk))
    if args.dump:
        args.dump.write_text(json.dumps([{**r, "queries": [o.__dict__ for o in r["queries"]],
                                          "junk": [o.__dict__ for o in r["junk"]]} for r in results]))
    for split in ("train", "test"):
        print(f"### {split}")
        print(table(results, split))
    print(pattern_table(results))
    if args.tune:
        tune(results)
    print("\n".join(losses(results)))
    print(rule_check(results))
    if not args.no_doc and not args.kb:
        write_section(SECTION, report(results, argv or []))
        print("updated docs/benchmarks.md section", repr(SECTION))
    print(json.dumps({r["kb"]: summary(r, "test") for r in results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
