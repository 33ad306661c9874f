"""The keyword leg's common facets filtered in memory instead of inside the FTS5 MATCH.

A filter inside the MATCH (``... AND facets : ("xg..0")``) makes FTS5 walk the facet's postings: at 1M
documents the most common tag's 535,000 of them were ~17 ms of a keyword leg of ~28 ms, and two tags and a
source ~27 ms of 37. The query's own terms match a few thousand documents (the postings budget of
:mod:`mcp_distill.search.query`), so this leaves the facets on more than FACET_MATCH_MAX documents out of the
MATCH, reads the best matches by BM25 (scores do not change: the facets column weighs 0) and keeps those
passing the filter by the masks of the in-memory codes (:mod:`mcp_distill.search.codes`,
:mod:`mcp_distill.search.tagsets`). The answer is the filtered query's exactly: when fewer than ``depth``
pass among the matches read and there were more matches, or a match has no row in memory (a document
without a vector: its filter values are not held), the caller runs the MATCH with every facet, as before.
A time filter is applied by the masks too (joining search_docs for each of thousands of matches cost more
than the facet's postings).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mcp_distill.search.codes import loaded_code_matrix
from mcp_distill.search.query import facet_token
from mcp_distill.store import Store

#: A tag, task type or source on more documents than this is filtered in memory, not in the MATCH.
FACET_MATCH_MAX = 50_000
#: Matches read: depth / (the share of the MATCH's matches expected to pass) x this, at least POSTFILTER_MIN;
#: too few of them passing falls back to the full MATCH. The facets are left out most common first while
#: that stays within POSTFILTER_MAX matches (each costs ~1-2 µs to read out of SQLite at 1M documents).
POSTFILTER_OVERFETCH = 2.0
POSTFILTER_MIN = 200
POSTFILTER_MAX = 2_000


def post_filtered(store: Store, facets: Sequence[str], where: dict[str, Any], tags: Sequence[str], depth: int,
                  run: Callable[[list[str], int], list[tuple[int, float]]]) -> list[tuple[int, float]] | None:
    """The best ``depth`` of ``run(facets kept in the MATCH, limit)`` (rows of (doc, BM25 score, lower is
    better), best first) that pass ``where`` (:func:`mcp_distill.search.codes.where_of`, the time
    included) and carry ``tags``, or None when that cannot be told this way (the codes not loaded in this process,
    no common facet, a match without a row in memory, too few passing): then the caller runs the full MATCH."""
    matrix = loaded_code_matrix(store)  # a keyword-only search does not load the codes for this
    n = len(matrix.docs) if matrix is not None else 0
    if matrix is None or not n:
        return None
    counts = {facet_token("g", tag): int(np.count_nonzero(matrix.tag_mask(store, [tag]))) for tag in tags}
    for kind, column in (("t", "task_type"), ("s", "source")):
        if column in where:
            counts[facet_token(kind, where[column])] = matrix.value_count(column, where[column])
    # the share of the MATCH's matches expected to pass, the facets taken as independent; the time is left
    # out of the SQL on this path, so it always counts
    share = matrix.time_share(where["ts_epoch"]) if "ts_epoch" in where else 1.0
    dropped: list[str] = []
    limit = 0
    for token in sorted(counts, key=lambda t: -counts[t]):  # the most common facets first
        wanted = depth / max(share * counts[token] / n, 1e-9) * POSTFILTER_OVERFETCH
        if counts[token] <= FACET_MATCH_MAX or wanted > POSTFILTER_MAX:
            break  # a rare facet is cheap in the MATCH; past POSTFILTER_MAX, reading the matches costs more
        share *= counts[token] / n
        dropped.append(token)
        limit = int(max(POSTFILTER_MIN, wanted))
    if not dropped:
        return None
    keep = matrix.mask(where)
    tagged = matrix.tag_mask(store, list(tags))
    if tagged is not None:
        keep = tagged if keep is None else keep & tagged
    if keep is None:  # nothing filters (one task type or source in the whole store)
        keep = np.ones(n, dtype=bool)
    rows = run([f for f in facets if f not in dropped], limit)
    if not rows:
        return []
    at = matrix.rows_of(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))
    if bool((at < 0).any()):
        return None
    passed = [row for row, ok in zip(rows, keep[at], strict=True) if ok]
    if len(passed) >= depth or len(rows) < limit:
        return passed[:depth]
    return None
