"""Search latency of mcp_distill.search.index at 10k and 100k playbook-sized documents.

    .venv/bin/python bench/search.py                       # 10k and 100k, 200 queries, k=10
    .venv/bin/python bench/search.py --sizes 10000 --queries 100
    .venv/bin/python bench/search.py --sizes 100000 --queries 300 --peers lancedb --recall --embedding
    .venv/bin/python bench/search.py --sizes 1000000 --bulk --queries 100 --server-rss --section "Search at 1M documents"

``--peers lancedb`` runs LanceDB (bench/search_peers.py; ``pip install -e '.[bench]'``) on the same
documents, vectors and queries, interleaved with mcp-distill over ``--rounds`` rounds; ``--recall``
measures the vector leg's overlap@10 with exact search (bench/search_recall.py); ``--embedding``
the query embedding alone and overlapped (bench/search_embed.py). The queries are split in halves:
the first (train) half picks the candidate depth, timings and reported overlaps use the second.

Synthetic documents, built from a real corpus (SciFact abstracts, ../shared/data/ir/scifact):
each has a title taken from a corpus document, 150-250 words of corpus sentences (mostly from
that document, some from others), 1-4 tags of 40 (Zipf-like), one of 12 task types, one of 4
sources and a time over two years. Their *vectors are not embedded one by one* (100k documents
would take hours on 2 cores): each is the real embedding of its title's corpus document plus
Gaussian noise (sigma 0.03 per dimension, cosine about 0.86 to the original), re-normalised — a
pool of real embeddings reused with noise. Query vectors are real: every timed search embeds its
query with the ONNX model, exactly as in production. Queries are SciFact claims.

Documents go through ``Index.upsert`` (the real write path; only the embedder is swapped for the
synthetic vectors), or with ``--bulk`` through ``mcp_distill.search.bulk_sqlite.bulk_build`` (the same rows,
written in bulk: for 1M documents), into bench/.cache/search_<n>.db, reused by later runs (``--rebuild`` to
redo). ``--server-rss`` measures a fresh serving process's memory (bench/search_serve.py).
Reports p50/p95 per mode, unfiltered and with filters, and writes its section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import search_embed
import search_peers
import search_recall
import search_serve
from _common import (
    CACHE_DIR,
    cached_embedder,
    load_corpus,
    load_queries,
    log,
    machine,
    percentile,
    write_section,
)

from mcp_distill.search import bulk_sqlite
from mcp_distill.search import postfilter as search_postfilter
from mcp_distill.search import query as search_query
from mcp_distill.search import vector as search_vector
from mcp_distill.search.embed import Embedder, OnnxMiniLM, l2_normalise
from mcp_distill.search.embed.query_cache import QUERY_VECTORS
from mcp_distill.search.index import Doc, Index, embed_text
from mcp_distill.search.legs import Filters, KeywordLeg
from mcp_distill.search.repository import docs_by_rowid
from mcp_distill.store import open_store

SECTION = "Search latency"
BUILD_VERSION = 4  # bump when the synthetic recipe changes, so cached stores are rebuilt
NOISE_SIGMA = 0.03
TASK_TYPES = [f"task-{name}" for name in ("bugfix", "feature", "refactor", "test", "docs", "deploy", "perf",
                                          "security", "deps", "ci", "data", "infra")]
SOURCES = ["runs", "manual", "import", "review"]
TAGS = [f"tag{i:02d}" for i in range(40)]
T0 = 1_735_689_600.0  # 2025-01-01
SPAN = 2 * 365 * 86400.0


class SyntheticVectors:
    """Embedder returning each synthetic document's prepared vector, and real ones for anything else
    (the queries). Same model id as the real model, so the index treats them as that model's."""

    def __init__(self, real: Embedder, vectors: dict[str, np.ndarray]):
        self.real = real
        self.vectors = vectors
        self.model_id = real.model_id

    @property
    def dim(self) -> int:
        return self.real.dim

    def embed(self, texts: list[str]) -> np.ndarray:
        """Taken out of ``vectors`` (each text is embedded once: embed_cache keeps it afterwards)."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.vstack([self.vectors.pop(t) if t in self.vectors else self.real.embed([t])[0] for t in texts])


def zipf_choice(rng: np.random.Generator, items: list[str], size: int, s: float = 1.1) -> list[str]:
    weights = 1.0 / np.arange(1, len(items) + 1) ** s
    picks = rng.choice(len(items), size=size, replace=False, p=weights / weights.sum())
    return [items[i] for i in picks]


def iter_synthetic(n: int, corpus: dict[str, tuple[str, str]], pool_vectors: np.ndarray, seed: int,
                   vectors: dict[str, np.ndarray]) -> Iterator[Doc]:
    """The ``n`` synthetic documents one at a time, each one's vector put in ``vectors`` (keyed by its
    embedding text) as it is yielded: a million documents never sit in memory at once."""
    rng = np.random.default_rng(seed)
    ids = list(corpus)
    sentences = [[s for s in re.split(r"(?<=[.!?])\s+", corpus[i][1]) if s] or [corpus[i][1]] for i in ids]
    everything = [s for group in sentences for s in group]
    for k in range(n):
        j = int(rng.integers(len(ids)))
        words_wanted = int(rng.integers(150, 251))
        parts: list[str] = []
        own = list(sentences[j])
        while sum(len(p.split()) for p in parts) < words_wanted:
            parts.append(own.pop(0) if own and rng.random() < 0.7 else everything[int(rng.integers(len(everything)))])
        title = " ".join(corpus[ids[j]][0].split()[:14])
        doc = Doc(
            id=f"pb-{k:06d}", title=title, text=" ".join(parts),
            tags=zipf_choice(rng, TAGS, int(rng.integers(1, 5))),
            task_type=zipf_choice(rng, TASK_TYPES, 1)[0], source=SOURCES[int(rng.integers(len(SOURCES)))],
            ts=T0 + float(rng.random()) * SPAN, metadata={"pool_doc": ids[j]},
        )
        noisy = pool_vectors[j] + rng.normal(0.0, NOISE_SIGMA, pool_vectors.shape[1]).astype(np.float32)
        vectors[doc.embed_text()] = l2_normalise(noisy[None, :])[0]
        yield doc


def synthetic(n: int, corpus: dict[str, tuple[str, str]], pool_vectors: np.ndarray, seed: int
              ) -> tuple[list[Doc], dict[str, np.ndarray]]:
    """The ``n`` synthetic documents and their vectors, all at once (for the peers and small sizes)."""
    vectors: dict[str, np.ndarray] = {}
    docs = list(iter_synthetic(n, corpus, pool_vectors, seed, vectors))
    return docs, vectors


def build(n: int, corpus: dict[str, tuple[str, str]], pool_vectors: np.ndarray, real: Embedder, seed: int,
          rebuild: bool, bulk: bool) -> tuple[Index, float | None, str]:
    """The store of ``n`` documents (built now unless a complete one exists): the index, the build's
    seconds and how it was built (``bulk``: mcp_distill.search.bulk_sqlite, else Index.upsert; both write
    the same rows, tests/search/test_bulk_sqlite.py)."""
    path = CACHE_DIR / f"search_{n}_v{BUILD_VERSION}_s{seed}.db"
    done_marker = path.with_suffix(".ok")
    if rebuild or not done_marker.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        done_marker.unlink(missing_ok=True)
    store = open_store(path)
    if done_marker.exists():  # built earlier: queries need only the real model (same model id)
        done = json.loads(done_marker.read_text())
        return Index(store, real, "playbooks"), float(done["seconds"]), done.get("via", "Index.upsert")
    vectors: dict[str, np.ndarray] = {}
    docs = iter_synthetic(n, corpus, pool_vectors, seed, vectors)
    index = Index(store, SyntheticVectors(real, vectors), "playbooks")
    started = time.perf_counter()
    if bulk:
        via = "bulk_sqlite.bulk_build"
        bulk_sqlite.bulk_build(index, docs, progress=lambda done, *_: log(f"{n}: bulk-built {done}")
                               if done % 50_000 == 0 else None)
    else:
        via = "Index.upsert"
        index.upsert(docs, progress=lambda done, total, *_: log(f"{n}: upserted {done}/{total}")
                     if done % 10240 == 0 or done == total else None)
        store.conn.execute("INSERT INTO search_fts(search_fts) VALUES ('optimize')")
    took = time.perf_counter() - started
    done_marker.write_text(json.dumps({"seconds": took, "via": via}))
    log(f"{n}: built in {took:.0f} s through {via} ({n / took:.0f} documents/s)")
    return Index(store, real, "playbooks"), took, via


#: measure()'s name of hybrid search with the query vector already cached (embedding excluded).
CACHED = "hybrid, cached"
FILTERS: list[tuple[str, dict[str, object]]] = [
    ("none", {}),
    ("task_type (most common)", {"task_type": TASK_TYPES[0]}),
    ("tag (most common)", {"tags": [TAGS[0]]}),
    ("2 tags + source", {"tags": [TAGS[0], TAGS[5]], "source": "manual"}),
    ("rare tag", {"tags": [TAGS[-1]]}),
    ("task_type + since (2 months)", {"task_type": TASK_TYPES[1], "since": "2026-10-01T00:00:00Z"}),
]


def share(index: Index, kwargs: dict[str, object]) -> float:
    """Fraction of the documents a filter keeps (counted through the index's own filter path)."""
    from mcp_distill.search.query import normalise_tag, parse_time

    since = parse_time(kwargs.get("since"), "since")  # type: ignore[arg-type]
    f = Filters(index.collection, task_type=kwargs.get("task_type"), source=kwargs.get("source"),  # type: ignore[arg-type]
                tags=tuple(normalise_tag(t) for t in kwargs.get("tags", ())),  # type: ignore[attr-defined]
                since=since[1] if since else None)
    return len(index.vectors._filtered_ids(f, None)) / max(index.count(), 1)


def measure(index: Index, queries: list[str], k: int) -> dict[tuple[str, str], tuple[float, float, float]]:
    """(filter label, mode) -> (p50 ms, p95 ms, mean hits); mode "hybrid, cached" is hybrid with the query
    embedding excluded (its vector already in the LRU: the same search right after the timed one). Modes
    are interleaved query by query, so a burst of load from elsewhere on the machine hits every mode alike."""
    modes = ("keyword", "semantic", "hybrid")
    out: dict[tuple[str, str], tuple[float, float, float]] = {}
    for q in queries[:5]:  # warm-up: ONNX session, page cache
        index.search(q, k=k, mode="hybrid")
    for label, kwargs in FILTERS:
        times: dict[str, list[float]] = {m: [] for m in (*modes, CACHED)}
        hits: dict[str, list[int]] = {m: [] for m in (*modes, CACHED)}
        for q in queries:
            for mode in (*modes, CACHED):
                if mode != CACHED:
                    QUERY_VECTORS.clear()  # the query embedding is part of the timed search
                started = time.perf_counter()
                result = index.search(q, k=k, mode="hybrid" if mode == CACHED else mode, **kwargs)  # type: ignore[arg-type]
                times[mode].append((time.perf_counter() - started) * 1000)
                hits[mode].append(len(result.hits))
        for mode in (*modes, CACHED):
            out[(label, mode)] = (percentile(times[mode], 50), percentile(times[mode], 95), float(np.mean(hits[mode])))
            log(f"{label:28s} {mode:14s} p50={out[(label, mode)][0]:.1f} ms p95={out[(label, mode)][1]:.1f} ms")
        out[(label, "share")] = (share(index, kwargs), 0.0, 0.0)
    return out


def naive_keyword(index: Index, queries: list[str]) -> tuple[float, float]:
    """The unbounded OR-ed keyword leg (every token, no df cut), for comparison."""
    leg = KeywordLeg(index.store, max_df_ratio=1.0, postings_budget=10**12, max_terms=10**6)
    f = Filters(collection=index.collection)
    times = []
    for q in queries:
        started = time.perf_counter()
        leg.run(leg.plan(q), f, search_query.FUSION_DEPTH)
        times.append((time.perf_counter() - started) * 1000)
    return percentile(times, 50), percentile(times, 95)


def memory() -> str:
    """Resident and peak resident memory of this process (Linux /proc), e.g. 'RSS 512 MB (peak 600 MB)'."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    mb = {key: int(status[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM") if key in status}
    return f"RSS {mb.get('VmRSS', 0):.0f} MB (peak {mb.get('VmHWM', 0):.0f} MB)"


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dataset", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
                        / "ir" / "scifact", help="corpus providing the text and the pool of real embeddings")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--peers", default="", help="comma-separated peers to run side by side: lancedb")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the side-by-side runs")
    parser.add_argument("--recall", action="store_true", help="vector leg overlap@10 with exact search")
    parser.add_argument("--embedding", action="store_true", help="query embedding alone and overlapped")
    parser.add_argument("--no-latency", action="store_true", help="skip the per-filter latency table")
    parser.add_argument("--bulk", action="store_true", help="build new stores with bulk_sqlite.bulk_build "
                        "(the same rows as Index.upsert, written in bulk)")
    parser.add_argument("--server-rss", action="store_true", help="RSS of a fresh process serving the store")
    parser.add_argument("--section", default=SECTION, help="the docs/benchmarks.md section to write")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    corpus = load_corpus(args.dataset)
    real = OnnxMiniLM()
    log(f"pool: embedding (or reading from bench/.cache) {len(corpus)} corpus documents")
    pool = cached_embedder(real).embed([embed_text(t, x) for t, x in corpus.values()])
    queries = list(load_queries(args.dataset).values())[: args.queries]
    qvecs = real.embed(queries)  # the same query vectors for every engine (timed separately: --embedding)
    test = queries[len(queries) // 2:]
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    peers = [p for p in args.peers.split(",") if p.strip()]
    load_before = os.getloadavg()[0]
    extra: list[str] = []
    results: dict[int, dict[tuple[str, str], tuple[float, float, float]]] = {}
    builds: dict[int, tuple[float | None, str]] = {}
    naive: dict[int, tuple[float, float]] = {}
    for n in sizes:
        index, took, via = build(n, corpus, pool, real, args.seed, args.rebuild, args.bulk)
        builds[n] = (took, via)
        if not args.no_latency:
            results[n] = measure(index, queries, args.k)
            naive[n] = naive_keyword(index, queries)
        if n == max(sizes):  # peers, recall and embedding at the largest size only
            extra += extras(args, n, index, corpus, pool, queries, qvecs, peers)
        extra += ["", f"Memory of this process after the {n:,}-document runs: {memory()}."]
        path = Path(index.store.path)
        index.store.close()
        if args.server_rss:
            got = search_serve.server_rss(path, test[:20], [f for _, f in FILTERS], args.k)
            extra += ["", search_serve.rss_line(n, got)]
    if args.embedding:
        alone = search_embed.embedding_alone(test, max(1, args.rounds // 2), percentile)
        extra += ["", *search_embed.embedding_lines(alone, None, None, len(test))]
    cmd = shlex.join(["bench/search.py", *(argv if argv is not None else sys.argv[1:])])  # a --section has spaces
    load = (load_before, os.getloadavg()[0])
    body = report(results, builds, naive, [n for n in sizes if n in results], len(queries), args.k, cmd, load)
    body += "\n".join(["", *extra, "", f"1-minute load average at the end: {os.getloadavg()[0]:.1f}.", ""])
    print(body)
    print(f"reproduce: .venv/bin/python {cmd}")
    if not args.no_doc:
        write_section(args.section, body)
        print("updated docs/benchmarks.md section", repr(args.section))
    return 0


def extras(args: argparse.Namespace, n: int, index: Index, corpus: dict[str, tuple[str, str]], pool: np.ndarray,
           queries: list[str], qvecs: np.ndarray, peers: list[str]) -> list[str]:
    """The side-by-side, recall and overlap sections for ``n`` documents."""
    half = len(queries) // 2
    lines: list[str] = []
    table = None
    if "lancedb" in peers:
        why = search_peers.available()
        if why:
            lines += ["", f"LanceDB not run: {why}."]
        else:
            folder = CACHE_DIR / f"lancedb_{n}_v{BUILD_VERSION}_s{args.seed}"
            # the documents are generated only to build the table: not held in the timing process otherwise
            table, took = search_peers.open_table(folder, lambda: synthetic(n, corpus, pool, args.seed),
                                                  args.rebuild, log)
            lines += ["", *side_by_side_lines(index, table, queries[half:], qvecs[half:], args, n, took)]
    if args.recall:
        rows, picked = search_recall.recall_table(index, qvecs, log)
        lance = None
        if table is not None:
            exact = search_recall.exact_top(index, qvecs[half:], 10)
            names = docs_by_rowid(index.store, sorted({d for e in exact for d in e}))
            lance = search_peers.lance_overlap(table, qvecs[half:], [[names[d]["doc_id"] for d in e] for e in exact])
        lines += ["", *search_recall.recall_lines(rows, picked, len(queries), lance)]
    if args.embedding:
        ab = search_embed.overlap_ab(index, queries[half:], args.k, max(1, args.rounds // 2), percentile)
        lines += ["", *search_embed.embedding_lines({}, ab, n, len(queries) - half)[4:]]
    return lines


def side_by_side_lines(index: Index, table: object, queries: list[str], qvecs: np.ndarray, args: argparse.Namespace,
                       n: int, took: float | None) -> list[str]:
    filters = [FILTERS[0], FILTERS[1], FILTERS[4]]
    got = search_peers.side_by_side(index, table, queries, qvecs, args.k, args.rounds, filters, percentile, log)
    lines = [f"**Side by side with LanceDB {search_peers.lance_version()} at {n:,} documents** (same documents, "
             f"vectors and query vectors; LanceDB: {search_peers.LANCE_INDEX} cosine index + native FTS, its hybrid "
             f"search with its default RRF reranker, built in {took or 0:.0f} s; {len(queries)} test-half queries, "
             f"k={args.k}, {args.rounds} rounds, the engines interleaved query by query in a rotating order, "
             f"medians of each round's p50 / p95, ms):", "",
             "| filter | ours, embedding excluded | ours, embedding included | LanceDB hybrid | ratio p50 | ratio p95 |",
             "|---|---|---|---|---|---|"]
    for label, _ in filters:
        ours, incl, lance = (got[(label, e)] for e in search_peers.ENGINES)
        lines.append(f"| {label} | {ours[0]:.1f} / {ours[1]:.1f} | {incl[0]:.1f} / {incl[1]:.1f} | "
                     f"{lance[0]:.1f} / {lance[1]:.1f} | {ours[0] / lance[0]:.2f} | {ours[1] / lance[1]:.2f} |")
    lines += ["", "Ratios: ours with the embedding excluded / LanceDB hybrid (the query vector given to both)."]
    log("\n".join(lines))
    return lines


def report(results: dict[int, dict[tuple[str, str], tuple[float, float, float]]],
           builds: dict[int, tuple[float | None, str]],
           naive: dict[int, tuple[float, float]], sizes: list[int], n_queries: int, k: int, cmd: str,
           load: tuple[float, float]) -> str:
    lines = [
        f"Measured by `bench/search.py`: {n_queries} queries (SciFact claims), k={k}, each search timed end to end "
        f"(query embedding with the ONNX model, both legs, fusion, fetching hits, matched_fields; \"embedding "
        f"excluded\": the same hybrid search again with its query vector in the LRU); {machine()}; "
        f"1-minute load average {load[0]:.1f} before, {load[1]:.1f} after (the machine is shared: other work "
        "running at the same time shows up in the p95).",
        "Documents are synthetic but playbook-sized (title + 150-250 words, tags, task type, source, time) built "
        "from SciFact text; their vectors are real embeddings of a pool of 5,183 SciFact abstracts reused with "
        f"Gaussian noise (sigma {NOISE_SIGMA}) — not one embedding per document. Milliseconds, p50 / p95.",
        "",
    ]
    for n in sizes:
        took, via = builds[n]
        built = f"built in {took:.0f} s ({n / took:.0f} documents/s) through `{via}`" if took else "built earlier"
        lines += [f"**{n:,} documents** ({built})", "",
                  "| filter (share of documents) | keyword | semantic | hybrid | hybrid, embedding excluded | "
                  "hits (hybrid) |", "|---|---|---|---|---|---|"]
        labels = list(dict.fromkeys(label for label, _ in results[n]))
        for label in labels:
            cells = [f"{results[n][(label, m)][0]:.1f} / {results[n][(label, m)][1]:.1f}"
                     for m in ("keyword", "semantic", "hybrid", CACHED)]
            pct = 100 * results[n][(label, "share")][0]
            lines.append(f"| {label} ({pct:.1f}%) | {' | '.join(cells)} | {results[n][(label, 'hybrid')][2]:.1f} |")
        lines += ["", f"Unbounded keyword leg (every token OR-ed, no df cut) for comparison: "
                  f"{naive[n][0]:.1f} / {naive[n][1]:.1f} ms.", ""]
    lines += [
        f"Settings: terms in > {search_query.MAX_DF_RATIO:g} of documents dropped, at most "
        f"{search_query.MAX_QUERY_TERMS} terms within {search_query.POSTINGS_BUDGET} postings; vector leg: the "
        f"{search_vector.VEC_POOL:g}x depth ({search_query.FUSION_DEPTH}) nearest binary codes by hamming distance "
        f"(in memory), ranked by their int8 vectors, the best {search_vector.VEC_RESCORE:g}x depth rescored by the "
        "float vectors. Filters: task_type, source, time and tags are masks over the in-memory codes (a tag's "
        f"read once from search_tags); a set is scored exactly up to {search_vector.SQLITE_EXACT_MAX} documents; up "
        f"to {search_vector.TAG_SUBSET_MAX:,} it is ranked by the in-memory int8 vectors and the best depth + "
        f"{search_vector.RESCORE_EXTRA} rescored by the float vectors; a larger set goes through the same KNN as "
        "the unfiltered search, over its rows only. The keyword leg filters a facet on more than "
        f"{search_postfilter.FACET_MATCH_MAX:,} documents by those masks instead of in the FTS5 MATCH (same "
        "results). Every filtered search returned its k hits. Targets: "
        "hybrid p95 <= 20 ms at 10k, <= 50 ms at 100k and 1M (issue #19: at 1M, server RSS < 1 GB).",
        "",
        f"Reproduce: `.venv/bin/python {cmd}` (the first run builds the stores into bench/.cache, later runs "
        "reuse them; `--rebuild` to redo).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
