"""The train-split grids behind the fusion and strength constants, and the per-query leg ranks
behind a loss (run by `bench/playbooks.py --tune` / `--losses`; the legs' rankings are fused again
here, so a grid costs no new searches)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from playbooks import DEPTH, K, Outcome, metrics, rank_of

from mcp_distill.search import query as search_query
from mcp_distill.search.query import keyword_weight, rrf_fuse


def refuse(o: Outcome, k: float = search_query.RRF_K, vector_weight: float = search_query.VECTOR_WEIGHT,
           cut: int | str | None = "default", power: float = search_query.LONG_QUERY_POWER) -> list[str]:
    """The query's two leg rankings fused again with other constants (the legs do not change)."""
    if cut == "default":
        kw = keyword_weight(o.n_terms)
    else:
        kw = search_query.KEYWORD_WEIGHT * (1.0 if cut is None or o.n_terms <= cut else (cut / o.n_terms) ** power)
    return [pid for pid, _ in rrf_fuse({"keyword": o.legs["keyword"], "vector": o.legs["semantic"]},
                                       {"keyword": kw, "vector": vector_weight}, k, DEPTH)][:K]


def fusion_row(train: dict[str, list[Outcome]], ranked_of: Callable[[Outcome], list[str]]) -> str:
    """top-1 / MRR@10 per KB and pooled, then whether hybrid is >= each leg on every KB."""
    row, holds = [], True
    for kb, qs in train.items():
        m = metrics(qs, ranked_of)
        legs = [metrics(qs, lambda o, leg=leg: o.legs[leg][:K]) for leg in ("keyword", "semantic")]
        holds &= all(m["top1"] >= g["top1"] and m["mrr@10"] >= g["mrr@10"] for g in legs)
        row.append(f"{kb} {m['top1']:.3f}/{m['mrr@10']:.3f}")
    pooled = metrics([o for qs in train.values() for o in qs], ranked_of)
    return "; ".join(row) + f"; pooled {pooled['top1']:.3f}/{pooled['mrr@10']:.3f}; hybrid >= legs: {holds}"


def tune(results: list[dict[str, Any]]) -> None:
    """Fusion grid (RRF k x vector weight; long-query cut-off x power) and strength features, on
    the train halves only. The real traces are left out of the fusion grids (2 train queries)."""
    train = {r["kb"]: [o for o in r["queries"] if o.split == "train"] for r in results if r["kb"] != "real"}
    print("## fusion (train): top1 / MRR@10 per KB for RRF k x vector weight (keyword weight by query length)")
    for k, vw in itertools.product((1, 2, 5, 10, 20, 60), (0.5, 0.75, 1.0, 1.5, 2.0)):
        print(f"k={k} vector_weight={vw}: " + fusion_row(train, lambda o, k=k, vw=vw: refuse(o, k, vw)))
    print("## long-query keyword weight (train): (L/n)^p beyond L terms, the SciFact-train k and weights; "
          "pooled = all train queries of the KBs above together")
    for cut, power in itertools.product((8, 12, 16, 20, 24, 32, None), (1.0, 1.5, 2.0, 2.5, 3.0)):
        if cut is None and power > 1:
            continue
        print(f"L={cut or 'none'} p={power:g}: " + fusion_row(train, lambda o, c=cut, p=power: refuse(o, cut=c, power=p)))
    print("## strength features (train): right playbook at hybrid rank 1 vs junk rank 1 (z, coverage)")
    for r in results:
        right = [o.labels["hybrid"][0] for o in r["queries"] if o.split == "train" and o.right and
                 o.ranked["hybrid"][:1] == [o.right]]
        junk = [o.labels["hybrid"][0] for o in r["junk"] if o.split == "train" and o.labels["hybrid"]]
        orphan = [o.labels["hybrid"][0] for o in r["queries"] if o.split == "train" and o.right is None
                  and o.labels["hybrid"]]
        for name, rows in (("right", right), ("junk", junk), ("no-answer", orphan)):
            zs = sorted(round(x[2], 2) for x in rows if x[2] is not None)
            cs = sorted(round(x[3], 2) for x in rows if x[3] is not None)
            print(f"{r['kb']} {name}: z {zs}\n    coverage {cs}")


def losses(results: list[dict[str, Any]], every_real: bool = True) -> list[str]:
    """One line per answerable query that hybrid ranks worse than one of its legs (and every real
    query): the right playbook's keyword / semantic / hybrid rank (- = not in the first 50 / 10)."""
    lines = []
    for r in results:
        for o in r["queries"]:
            if o.right is None:
                continue
            ranks = [rank_of(o.legs["keyword"], o.right), rank_of(o.legs["semantic"], o.right),
                     rank_of(o.ranked["hybrid"], o.right)]
            worse = (ranks[2] or 99) > min(ranks[0] or 99, ranks[1] or 99)  # 99: not found
            if worse or (every_real and r["kb"] == "real"):
                shown = " / ".join(str(x) if x else "-" for x in ranks)
                lines.append(f"| {r['kb']} | {o.split} | {o.key} | {o.n_terms} | {shown} |")
    return ["| KB | half | query (held-out run) | keyword terms | right playbook's rank: keyword / semantic / "
            "hybrid |", "|---|---|---|---|---|", *lines] if lines else []
