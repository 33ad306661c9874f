"""The keyword leg's postings rules on SciFact in the 1M-document regime (issue #19), by proxy.

At 1M documents a query's terms are each ~190x as common as in SciFact's 5,183 abstracts (the 1M benchmark
store is built from them), so a postings budget B at 1M prunes like B * 5183 / 1M on SciFact. This grid
scales each rule's budget and forced-terms cap that way, plans every query of the split with the planner's
own ordering (rarest first, the same df snapshot), and reports keyword and hybrid nDCG@10 (hybrid: the
search's own RRF fusion with the default vector leg) and the postings the plan walks, in 1M-equivalents.
Choose on ``--split train`` only; the test split is for reporting.

    .venv/bin/python bench/search_rules.py --dataset ../shared/data/ir/scifact --split train
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

from _common import cached_embedder, load_corpus, load_qrels, load_queries, log, mean, ndcg_at, percentile

from mcp_distill.search.index import Doc, Index
from mcp_distill.search.legs import Filters, KeywordLeg
from mcp_distill.search.query import (
    FUSION_DEPTH,
    MAX_DF_RATIO,
    RRF_K,
    VECTOR_WEIGHT,
    keyword_weight,
    query_tokens,
    rrf_fuse,
)
from mcp_distill.store import open_store

#: (budget, min_keep, forced-terms cap) at 1M documents; cap None: no cap (the rule before).
GRID = [(b, k, c) for b, k, c in itertools.product((4000, 8000, 16000), (1, 2, 3), (None, 8000, 16000, 32000))
        if c is None or c >= b]


def candidates(leg: KeywordLeg, query: str) -> list[tuple[int, str]]:
    """(document frequency, token) of the query's terms as plan_terms orders them (rarest first), terms in
    no document and boilerplate (> MAX_DF_RATIO of the documents) left out."""
    tokens = query_tokens(query)
    stems = leg.tokenize(tokens)
    df, n, floor = leg._document_frequencies()
    absent = 0 if floor <= 1 else floor // 2
    seen: dict[tuple[str, ...], str] = {}
    for i, token in enumerate(tokens):
        if (terms := stems.get(i)) and tuple(terms) not in seen:
            seen[tuple(terms)] = token
    scored = sorted(((min(df.get(t, absent) for t in terms), token) for terms, token in seen.items()),
                    key=lambda s: s[0])
    return [(freq, token) for freq, token in scored if 0 < freq <= MAX_DF_RATIO * n]


def choose(terms: list[tuple[int, str]], budget: float, keep: int, cap: float | None) -> tuple[list[str], int]:
    """The tokens a rule keeps and the postings they walk (KeywordLeg.plan_terms' loop)."""
    kept: list[str] = []
    spent = 0
    for freq, token in terms:
        if len(kept) >= keep and spent + freq > budget:
            break
        if kept and cap is not None and spent + freq > cap:
            break
        kept.append(token)
        spent += freq
    return kept, spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
                        / "ir" / "scifact")
    parser.add_argument("--split", default="train")
    parser.add_argument("--docs", type=int, default=1_000_000, help="the corpus size the rules are scaled to")
    args = parser.parse_args()
    queries = load_queries(args.dataset)
    qrels = {q: r for q, r in load_qrels(args.dataset, args.split).items() if q in queries}
    with tempfile.TemporaryDirectory() as tmp, open_store(Path(tmp) / "rules.db") as store:
        index = Index(store, cached_embedder(), "bench")
        index.upsert([Doc(id=i, title=t, text=x) for i, (t, x) in load_corpus(args.dataset).items()])
        ids = {r["id"]: r["doc_id"] for r in store.query("SELECT id, doc_id FROM search_docs")}
        scale = args.docs / len(ids)
        filters = Filters("bench")
        leg = KeywordLeg(store)
        vector = {q: [d for d, _ in index.vectors.search(index.embedder.embed([queries[q]])[0],  # type: ignore[union-attr]
                                                         filters, FUSION_DEPTH, need=10)] for q in qrels}
        terms = {q: candidates(leg, queries[q]) for q in qrels}
        runs: dict[tuple[str, ...], list[int]] = {}
        log(f"{len(qrels)} queries of {args.split}, {len(ids)} documents; rules scaled by 1/{scale:.1f}")
        print(f"{args.dataset.name} {args.split} ({len(qrels)} queries), rules at {args.docs:,} documents scaled "
              f"by {len(ids):,} / {args.docs:,}:\n")
        print("| budget | min_keep | forced cap | keyword nDCG@10 | hybrid nDCG@10 | postings p50 | p95 | max |")
        print("|---|---|---|---|---|---|---|---|")
        for budget, keep, cap in GRID:
            kw_nd, hy_nd, spent_all = [], [], []
            for q in qrels:
                kept, spent = choose(terms[q], budget / scale, keep, None if cap is None else cap / scale)
                if tuple(kept) not in runs:
                    runs[tuple(kept)] = [d for d, _ in leg.run(kept, filters, FUSION_DEPTH)]
                keyword = runs[tuple(kept)]
                fused = index_fuse(keyword, vector[q], len(kept))
                kw_nd.append(ndcg_at([ids[d] for d in keyword], qrels[q], 10))
                hy_nd.append(ndcg_at([ids[d] for d in fused], qrels[q], 10))
                spent_all.append(spent * scale)
            print(f"| {budget} | {keep} | {cap or 'none'} | {mean(kw_nd):.4f} | {mean(hy_nd):.4f} | "
                  f"{percentile(spent_all, 50):,.0f} | {percentile(spent_all, 95):,.0f} | {max(spent_all):,.0f} |",
                  flush=True)
    print(f"\nreproduce: .venv/bin/python bench/search_rules.py --dataset {args.dataset} --split {args.split}")
    return 0


def index_fuse(keyword: list[int], vector: list[int], n_terms: int) -> list[int]:
    """The top 10 of Index.search's fusion of the two legs."""
    weights = {"keyword": keyword_weight(n_terms), "vector": VECTOR_WEIGHT}
    return [d for d, _ in rrf_fuse({"keyword": keyword, "vector": vector}, weights, k=RRF_K, depth=FUSION_DEPTH)[:10]]


if __name__ == "__main__":
    raise SystemExit(main())
