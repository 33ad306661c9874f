"""The keyword leg's term planner bounds the postings it walks: the rarest terms are kept while their
document frequencies fit the budget, a second term is forced in beyond it only while the two stay within
the forced-terms cap (issue #19: at 1M documents two forced terms walked up to 65k postings). Real SQLite
file, real FTS5; the budget and cap are scaled down to a small index through the leg's knobs."""

from __future__ import annotations

from mcp_distill.search.index import Doc, Index
from mcp_distill.search.legs import Filters, KeywordLeg
from mcp_distill.search.query import MIN_KEEP_CAP, POSTINGS_BUDGET
from mcp_distill.store import Store


def corpus(store: Store) -> Index:
    """'zebrafish' in 5 documents, 'lantern' in 7, 'harbor' in 9, 40 documents of filler in all."""
    index = Index(store, None, "docs")
    docs = []
    for i in range(40):
        words = ["filler", f"unique{i}"]
        words += ["zebrafish"] * (i < 5) + ["lantern"] * (5 <= i < 12) + ["harbor"] * (12 <= i < 21)
        docs.append(Doc(id=f"d{i}", title=f"doc {i}", text=" ".join(words)))
    index.upsert(docs)
    return index


def test_the_second_forced_term_is_kept_only_within_the_cap(store: Store) -> None:
    corpus(store)
    query = "harbor lantern zebrafish"
    # budget 4: even the rarest (5 documents) is past it; it is kept anyway, as the first term always is
    assert KeywordLeg(store, postings_budget=4, min_keep=2, forced_cap=11).plan(query) == ["zebrafish"]
    # cap 12: zebrafish + lantern (12 postings) fit, harbor (21) does not
    assert KeywordLeg(store, postings_budget=4, min_keep=2, forced_cap=12).plan(query) == ["zebrafish", "lantern"]
    # no cap: min_keep forces two terms whatever they cost, as before the cap
    assert KeywordLeg(store, postings_budget=4, min_keep=2, forced_cap=10**9).plan(query) == ["zebrafish", "lantern"]
    # within the budget the cap plays no part, even a cap below it: all three (21 postings) fit a budget of 21
    assert KeywordLeg(store, postings_budget=21, min_keep=2, forced_cap=12).plan(query) == [
        "zebrafish", "lantern", "harbor"]
    leg = KeywordLeg(store, postings_budget=4, min_keep=2, forced_cap=11)
    hits = [d for d, _ in leg.run(leg.plan(query), Filters("docs"), 50)]
    assert len(hits) == 5  # only the zebrafish documents: the postings walked are the 5 of the kept term


def test_the_defaults_cap_two_forced_terms_at_twice_the_budget(store: Store) -> None:
    assert MIN_KEEP_CAP == 2 * POSTINGS_BUDGET
    index = corpus(store)
    assert index.keyword.forced_cap == MIN_KEEP_CAP
    assert index.search("harbor lantern zebrafish", k=10, mode="keyword").keyword_terms == [
        "zebrafish", "lantern", "harbor"]
