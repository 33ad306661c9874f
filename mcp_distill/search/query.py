"""Pure pieces of the search index: query sanitising, FTS5 expressions, facet tokens, fusion.

Nothing here touches the store, so each piece is testable (and tunable) on its own;
:mod:`mcp_distill.search.index` puts them together.

Why the keyword query is built this way
---------------------------------------
Agents send arbitrary text ("foo AND (", quotes, ``col:val``, ``NEAR(a b)``, ``*``). Passing it
to FTS5 raw raises syntax errors. :func:`query_tokens` keeps only runs of letters and digits,
each becomes a double-quoted FTS5 string (never an operator), and the strings are OR-ed — the
bag-of-words BM25 that measured 0.687 nDCG@10 on SciFact. Which tokens are kept (document
frequency cut, term cap) is decided by the index, which knows the vocabulary.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Hashable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from mcp_distill.errors import InvalidInputError

# ----------------------------------------------------------------------------- fusion constants
# Tuned together on SciFact *train* qrels (809 queries; `bench/retrieval.py --tune`), never on
# test. nDCG@10 on train: RRF_K 60 / weights 1:1 (the textbook default) 0.719; RRF_K 5 0.733;
# RRF_K 1 with the vector leg at 0.75: 0.739 (the best of k in 1..60 x vector weight 0.75..1.5).
# A small k lets the first ranks of each leg dominate, which is what a top-5 tool needs.
#: Reciprocal-rank-fusion damping constant k (see rrf_fuse).
RRF_K = 1.0
#: Per-leg weights of the fusion: BM25 is the stronger leg on SciFact (0.69 vs 0.66 nDCG@10).
KEYWORD_WEIGHT = 1.0
VECTOR_WEIGHT = 0.75
#: The keyword leg's weight falls beyond this many query terms: (LONG_QUERY_TERMS / n) ** LONG_QUERY_POWER.
#: A long task prompt ORs dozens of terms, most of them shared in part by many documents, and
#: BM25's ranking of such a bag is noisier than the embedding of the same text: on the train
#: halves of the playbook leave-one-out sets (bundled, generated 200 and 500 runs) the keyword
#: leg's MRR@10 is below the vector leg's for queries of 25-32 and of more than 32 kept terms in
#: every KB, and equal (both perfect) at 17-24; short queries (SciFact claims, a few words typed by
#: an agent) keep the SciFact-train weights above. 16 is the smallest cut-off that leaves the
#: short-query evidence untouched (SciFact train nDCG@10 0.7382 at 16 and above; 2 of 809 claims
#: keep more than 16 terms, 81 more than 12; 12 costs 0.0009), so the weight can fall as steeply
#: as the long-prompt evidence asks without touching short queries.
LONG_QUERY_TERMS = 16
#: How steeply: with 1/n (power 1) hybrid stayed below the vector leg on the bundled train half
#: (MRR@10 0.906 vs 0.917: a 28-term PR-audit prompt, right playbook keyword rank 5 / vector rank 3,
#: lost to documents at keyword ranks 1-3 the vector leg ranks 4-11, since a keyword weight of
#: 0.57 still lets one high keyword rank outweigh the vector leg's). On the train halves, power
#: 1 / 1.5 / 2 / 2.5 / 3 at L = 16 gave bundled MRR@10 0.906 / 0.911 / 0.917 / 0.917 / 0.917 and
#: generated-500 top-1 0.986 / 0.986 / 0.986 / 0.961 / 0.961 (the vector leg 0.961): 2 is the only
#: value at which hybrid is at least as good as each leg on every train half (bench/playbooks.py
#: --tune). At n = 28 the keyword weight is 0.33, at 48 0.11, at 128 (the cap) 0.016: on a long
#: prompt the keyword leg mostly reorders what the vector leg already ranks close together.
LONG_QUERY_POWER = 2.0
#: Ranks taken from each leg before fusing (or k when larger). 50 vs 100 changes train nDCG@10
#: by 0.0007, and the vector leg's KNN cost is linear in it (6 vs 11 ms at 100k documents).
FUSION_DEPTH = 50

# ----------------------------------------------------------------------------- keyword constants
#: FTS5 bm25() column weights of title, text and tags (the facets column, filter tokens, weighs 0).
#: Title 3x text: SciFact train nDCG@10 0.7016 (1x), 0.7052 (2x), 0.7078 (3x), 0.7073 (4x).
TITLE_WEIGHT = 3.0
TEXT_WEIGHT = 1.0
TAGS_WEIGHT = 1.0
#: A query term found in more than this fraction of the documents is boilerplate: FTS5's bm25()
#: gives it an idf of ~0 (log((N - n + 0.5) / (n + 0.5)) <= 0 is clamped to 1e-6), so it adds
#: nothing to the ranking while it matches most of the index (and would make every document a
#: keyword "hit"). Dropped whatever the index size; a query of only such words keeps its rarest.
MAX_DF_RATIO = 0.5
#: The keyword leg's cost is about proportional to the postings it scores (measured ~0.5 µs per
#: matched posting with bm25() on 2 cores), so the query keeps its rarest terms while the sum
#: of their document frequencies stays within this budget; common terms (low idf, most of the
#: cost) go first. This is what bounds the leg at 100k documents (every token OR-ed took 130 ms
#: there, see docs/benchmarks.md). SciFact train nDCG@10 with a budget of 4000 / 8000 / none:
#: 0.7083 / 0.7078 / 0.7079, and 4000 halves the leg's time at 10k and 100k (2 ms vs 4 ms).
POSTINGS_BUDGET = 4000
#: ...but the rarest terms are kept anyway up to this many, so a query of only common words
#: still finds something.
MIN_KEEP_TERMS = 2
#: ...though a term beyond the first is forced in only while the postings kept stay within this cap
#: (the rarest term is always kept). Without it the two rarest terms of a query at 1M documents walked
#: a median 8.4k and up to 65k postings (keyword leg p95 108 ms). Chosen on SciFact *train* in the 1M
#: regime (budget and cap scaled by 5,183 / 1M, so each term is as common relative to the corpus;
#: bench/search_rules.py): hybrid nDCG@10 0.6639 without a cap (postings p95 40.5k in 1M terms), 0.6585
#: at 32k (23.5k), 0.6492 at 16k (14.5k), 0.6425 at 8k (9.6k); 8k is the largest cap bringing the p95
#: under 10k postings (~25 ms at ~2.5 µs a posting there, half the 50 ms target). At 5k documents it never
#: binds (two terms each in at most half of 5k documents), at 100k it changes 4 of 300 claims' plans.
MIN_KEEP_CAP = 2 * POSTINGS_BUDGET
#: At most this many (rarest) terms are OR-ed. The terms are chosen from the *whole* query by
#: document frequency (never its first N tokens), so a long prompt keeps what distinguishes it;
#: the cap only bounds the FTS5 expression (each OR-ed phrase opens a posting list).
MAX_QUERY_TERMS = 128
#: Query text beyond this many characters is ignored (both legs). Long: an agent's task prompt
#: (issue text, file excerpt) is the query, and its informative words may come late; the
#: embedder reads its first 256 word pieces anyway.
MAX_QUERY_CHARS = 20_000

#: A query longer than this many words is embedded as consecutive windows of this many words and
#: its vector is the normalised mean of theirs: the embedder reads only its first 256 word
#: pieces (~150 English words, fewer in code), so a long task prompt whose specifics (the file,
#: the error) come after a boilerplate preamble would otherwise be embedded as its preamble.
EMBED_WINDOW_WORDS = 64
#: At most this many windows (embedded in one batch), spread evenly over the whole query.
MAX_EMBED_WINDOWS = 12

# unicode61 splits on everything that is not a letter, a number or a private-use character;
# "_" is a separator there too, so it is one here.
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)

K = TypeVar("K", bound=Hashable)


def query_tokens(text: str, limit: int | None = None) -> list[str]:
    """Distinct letter/digit runs of ``text`` (its first MAX_QUERY_CHARS characters) in order of
    first appearance, case-folded, at most ``limit`` (default: all). Whatever the input, the
    result holds no FTS5 syntax."""
    seen: dict[str, None] = {}
    for match in _TOKEN.finditer(text[:MAX_QUERY_CHARS]):
        token = match.group(0).casefold()
        if token not in seen:
            seen[token] = None
            if limit is not None and len(seen) >= limit:
                break
    return list(seen)


def embed_windows(text: str, words: int = EMBED_WINDOW_WORDS, limit: int = MAX_EMBED_WINDOWS) -> list[str]:
    """``text`` as consecutive windows of ``words`` whitespace-separated words (one window when
    short), at most ``limit`` of them, taken evenly from start to end."""
    parts = text.split()
    if len(parts) <= words:
        return [text]
    windows = [" ".join(parts[i:i + words]) for i in range(0, len(parts), words)]
    if len(windows) > limit:
        step = len(windows) / limit
        windows = [windows[int(i * step)] for i in range(limit)]
    return windows


def fts_string(token: str) -> str:
    """``token`` as an FTS5 string literal: double-quoted, inner quotes doubled."""
    return '"' + token.replace('"', '""') + '"'


def facet_token(kind: str, value: str) -> str:
    """An opaque token standing for one filter value (kind: c=collection, t=task_type, s=source,
    g=tag) in the FTS5 ``facets`` column.

    Letters a-f and digits from a hash, wrapped as ``x<kind><hash>0``: the tokenizer keeps it as
    one token and the porter stemmer leaves it alone (no English suffix ends in a digit), and no
    two kinds collide.
    """
    digest = hashlib.blake2b(f"{kind}\x00{value}".encode(), digest_size=8).hexdigest()
    return f"x{kind}{digest}0"


def normalise_tag(tag: str) -> str:
    """Tags match case-insensitively and ignore surrounding blanks."""
    return " ".join(str(tag).split()).casefold()


def build_match(terms: Sequence[str], facets: Sequence[str]) -> str:
    """The FTS5 MATCH expression: any of ``terms`` in title/text/tags, and all ``facets``.

    ``{title text tags} : ("a" OR "b") AND facets : ("xc..0" AND "xg..0")``. Filters inside the
    MATCH are intersected by FTS5 itself, so a filter can never starve the keyword leg.
    """
    body = "{title text tags} : (" + " OR ".join(fts_string(t) for t in terms) + ")"
    if facets:
        body += " AND facets : (" + " AND ".join(fts_string(f) for f in facets) + ")"
    return body


def keyword_weight(n_terms: int) -> float:
    """The keyword leg's fusion weight for a query that kept ``n_terms`` terms (see LONG_QUERY_TERMS)."""
    if n_terms <= LONG_QUERY_TERMS:
        return KEYWORD_WEIGHT
    return KEYWORD_WEIGHT * (LONG_QUERY_TERMS / n_terms) ** LONG_QUERY_POWER


def rrf_fuse(
    rankings: Mapping[str, Sequence[K]],
    weights: Mapping[str, float] | None = None,
    k: float = RRF_K,
    depth: int | None = FUSION_DEPTH,
) -> list[tuple[K, float]]:
    """Weighted reciprocal rank fusion of several ranked lists.

    ``score(d) = sum over legs L containing d of  w_L / (k + rank_L(d))``, ``rank`` 1-based,
    each list cut to its first ``depth`` items. Ranks only, never raw scores: BM25 values and
    cosine similarities live on unrelated scales, and ranks make the fusion robust to both.
    A larger ``k`` flattens the curve (deep ranks count relatively more); the weights tilt the
    fusion towards a leg. Legs missing from ``weights`` weigh 1.0.

    Ties are broken by the strongest single piece of evidence, the largest ``w_L / (k + rank)``
    of one leg, then by first appearance, so the output is deterministic. With k = 1 and a
    keyword weight below 1, exact ties happen (weight 0.5: keyword rank 1 + vector rank 2 =
    vector rank 1 + keyword rank 3 = 0.5); breaking them by the raw best rank, as before, ignored
    the weights and handed them to whichever leg came first (the keyword one), which is the leg
    the weights had just said to trust less.

    Returns (key, score) pairs, best first.
    """
    weights = weights or {}
    scores: dict[K, float] = {}
    best: dict[K, float] = {}
    for leg, ranking in rankings.items():
        w = float(weights.get(leg, 1.0))
        items = ranking if depth is None else ranking[:depth]
        for rank, key in enumerate(items, start=1):
            part = w / (k + rank)
            scores[key] = scores.get(key, 0.0) + part
            best[key] = max(best.get(key, 0.0), part)
    order = {key: i for i, key in enumerate(scores)}
    # Rounded so that float noise (0.25 + 0.25 vs 0.375 + 0.125) cannot decide a tie.
    return sorted(scores.items(), key=lambda kv: (-round(kv[1], 9), -best[kv[0]], order[kv[0]]))


def parse_time(value: datetime | str | float | int | None, name: str = "ts") -> tuple[str, float] | None:
    """(ISO-8601 string in UTC, epoch seconds) of a datetime, an ISO string or epoch seconds.

    Naive datetimes are taken as UTC. Raises InvalidInputError on anything unparseable.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidInputError(f"{name} must be an ISO-8601 time, not {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise InvalidInputError(f"{name} must be a finite epoch time, not {value!r}")
        dt = datetime.fromtimestamp(float(value), tz=UTC)
    elif isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip()
        try:
            dt = datetime.fromisoformat(text)
        except ValueError as exc:
            how = "is not an ISO-8601 time; write it like 2026-11-28 or 2026-11-28T10:00:00Z"
            raise InvalidInputError(f"{name}={text[:60]!r} {how}", cli=f"--{name} {text[:60]!r} {how}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    dt = dt.astimezone(UTC)
    return dt.isoformat().replace("+00:00", "Z"), dt.timestamp()
