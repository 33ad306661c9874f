"""Exact and near-duplicate detection: what must be caught, what must be kept, and determinism."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys

import numpy as np
import pytest

from mcp_distill.datasets.neardup import (
    NEAR_DUP_THRESHOLD,
    NUM_PERM,
    DedupIndex,
    DupResult,
    candidate_probability,
    estimate_similarity,
    exact_key,
    minhash_signatures,
    normalize,
)

_TOPIC = (
    "the agent reads a file then edits the parser and runs tests until they pass while the store keeps "
    "every record with its score and the exporter writes rows for training after redaction checks that "
    "no secret survives because datasets leak when nobody looks at them closely enough during review"
)
_WORDS = _TOPIC.split()


def _prose(seed: int, n_words: int) -> str:
    """Deterministic pseudo-prose: sentences of 8-16 words from a large random vocabulary."""
    rng = random.Random(seed)
    vocab = [*_WORDS, *(f"w{rng.randrange(10**6)}" for _ in range(3000))]
    out: list[str] = []
    while len(out) < n_words:
        sentence = [rng.choice(vocab) for _ in range(rng.randint(8, 16))]
        sentence[0] = sentence[0].capitalize()
        out.extend(sentence[:-1])
        out.append(sentence[-1] + ".")
    return " ".join(out[:n_words])


def _shingle_jaccard(a: str, b: str, k: int = 5) -> float:
    wa, wb = normalize(a).split(), normalize(b).split()
    sa = {tuple(wa[i : i + k]) for i in range(len(wa) - k + 1)}
    sb = {tuple(wb[i : i + k]) for i in range(len(wb) - k + 1)}
    return len(sa & sb) / len(sa | sb)


def test_normalize_folds_case_space_and_punctuation() -> None:
    assert normalize("  Hello,\tWORLD!\n\nIt's  fine_ok. ") == "hello world it s fine ok"
    assert normalize("Ｈｅｌｌｏ　Wörld…") == "hello wörld"  # full-width and ideographic space (NFKC)
    assert normalize("") == normalize(" \n\t ") == normalize("!!! ---") == ""
    assert exact_key("A  b.") == exact_key("a b")


def test_exact_duplicates_after_case_whitespace_and_punctuation_changes() -> None:
    idx = DedupIndex()
    text = _prose(1, 200)
    assert idx.add("r1", text) is None
    variant = "  " + text.upper().replace(". ", " ;\n\n ") + "!!"
    assert idx.add("r2", variant) == DupResult("exact", "r1", 1.0)
    assert idx.add("r3", text) == DupResult("exact", "r1", 1.0)
    assert len(idx) == 1


def test_near_duplicate_with_one_sentence_rewritten() -> None:
    idx = DedupIndex()
    base = _prose(2, 400)
    words = base.split()
    # Rewrite one 15-word stretch in the middle: a sentence changed.
    rewritten = " ".join([*words[:200], *(f"new{i}" for i in range(15)), *words[215:]])
    assert _shingle_jaccard(base, rewritten) >= NEAR_DUP_THRESHOLD
    assert idx.add("a", base) is None
    res = idx.add("b", rewritten)
    assert res is not None and res.kind == "near" and res.duplicate_of == "a"
    assert NEAR_DUP_THRESHOLD <= res.similarity < 1.0


def test_near_duplicate_with_a_changed_word_and_reformatting() -> None:
    idx = DedupIndex()
    base = _prose(3, 120)
    words = base.split()
    words[60] = "CHANGED"
    variant = "\n".join(" ".join(words[i : i + 10]) for i in range(0, len(words), 10)).lower()
    assert idx.add("a", base) is None
    res = idx.add("b", variant)
    assert res is not None and res.kind == "near" and res.duplicate_of == "a"


def test_short_texts_use_character_shingles() -> None:
    idx = DedupIndex()
    assert idx.add("s1", "Run the unit tests before you commit the change to main.") is None
    res = idx.add("s2", "run the unit tests before you commit the changes to main")
    assert res is not None and res.kind == "near" and res.duplicate_of == "s1"
    assert idx.add("s3", "Run the linter before you push the branch to the remote.") is None
    assert idx.add("s4", "fix the bug in parser") is None
    assert idx.add("s5", "fix the bug in lexer") is None
    assert idx.add("s6", "ok") is None
    assert idx.add("s7", "OK!") == DupResult("exact", "s6", 1.0)
    assert idx.add("s8", "no") is None
    assert len(idx) == 6


def test_empty_texts_are_exact_duplicates_of_each_other_only() -> None:
    idx = DedupIndex()
    assert idx.add("e1", "") is None
    assert idx.add("e2", "  \n ") == DupResult("exact", "e1", 1.0)
    assert idx.add("e3", "?!") == DupResult("exact", "e1", 1.0)
    assert idx.add("x", "a") is None  # one character: a single shingle, not confused with empty
    assert idx.add("y", "b") is None
    assert minhash_signatures([""]).tolist() == [[0] * NUM_PERM]


def test_different_texts_on_the_same_topic_are_kept() -> None:
    idx = DedupIndex()
    topic_a = (
        "SQLite stores the whole database in a single file. Writers take a lock on the file, so only "
        "one write transaction runs at a time, while readers in WAL mode keep reading a snapshot. "
        "Vacuum rebuilds the file to reclaim free pages after large deletes, and analyze refreshes "
        "the statistics that the query planner uses to pick indexes for joins and range scans."
    )
    topic_b = (
        "SQLite keeps every table and index inside one database file. In WAL mode the writer appends "
        "pages to a separate log and readers keep a consistent snapshot until they finish. A "
        "checkpoint copies the log back into the main file, and busy_timeout makes a second writer "
        "wait for the lock instead of failing at once with database is locked."
    )
    assert idx.add("a", topic_a) is None
    assert idx.add("b", topic_b) is None
    # Same vocabulary, different content: 50 rows generated from one topic word list.
    rng = random.Random(7)
    results = [idx.add(f"t{i}", " ".join(rng.choice(_WORDS) for _ in range(80))) for i in range(50)]
    assert results == [None] * 50
    assert len(idx) == 52


def test_first_wins_and_chain_is_judged_against_the_kept_row() -> None:
    idx = DedupIndex()
    base = _prose(4, 300).split()
    v1 = " ".join([*base[:100], "edit1", *base[101:]])
    v2 = " ".join([*base[:100], "edit1", *base[101:150], "edit2", *base[151:]])
    assert idx.add("orig", " ".join(base)) is None
    r1, r2 = idx.add("v1", v1), idx.add("v2", v2)
    assert r1 is not None and r1.duplicate_of == "orig"
    assert r2 is not None and r2.duplicate_of == "orig"  # v1 was not stored, so v2 points at orig
    assert len(idx) == 1


def test_add_many_matches_add_one_by_one_and_runs_are_deterministic() -> None:
    rows: list[tuple[str, str]] = []
    for i in range(300):
        base = _prose(100 + i % 40, 100 + (i % 40 % 7) * 40)
        if i >= 40:  # later rows are edited copies of the first forty
            words = base.split()
            words[i % len(words)] = f"edit{i}"
            base = " ".join(words)
        rows.append((f"k{i}", base))
    one = DedupIndex()
    singles = [one.add(k, t) for k, t in rows]
    batched = DedupIndex().add_many(rows)
    assert singles == batched
    assert DedupIndex().add_many(rows) == batched
    assert sum(r is None for r in batched) == 40


def test_signatures_do_not_depend_on_batching_or_process() -> None:
    long_text = _prose(9, 20_000)  # more shingles than one minhash block: straddles blocks
    texts = [_prose(8, 50), "", "tiny", long_text, _prose(10, 500)]
    together = minhash_signatures([normalize(t) for t in texts])
    for i, t in enumerate(texts):
        assert np.array_equal(minhash_signatures([normalize(t)])[0], together[i])
    code = (
        "from mcp_distill.datasets.neardup import minhash_signatures, normalize\n"
        "import hashlib, sys\n"
        "t = sys.stdin.read()\n"
        "print(hashlib.sha256(minhash_signatures([normalize(t)]).tobytes()).hexdigest())\n"
    )
    digests = set()
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code], input=texts[4], capture_output=True, text=True, env=env, check=True)
        digests.add(out.stdout.strip())
    assert digests == {hashlib.sha256(together[4].tobytes()).hexdigest()}


def test_minhash_estimate_tracks_true_jaccard() -> None:
    base = _prose(11, 400).split()
    for k in (5, 15, 30, 60):
        edited = " ".join([*base[:150], *(f"z{i}" for i in range(k)), *base[150 + k :]])
        true = _shingle_jaccard(" ".join(base), edited)
        sigs = minhash_signatures([normalize(" ".join(base)), normalize(edited)])
        assert abs(estimate_similarity(sigs[0], sigs[1]) - true) < 0.12, (k, true)


def test_banding_s_curve_is_tuned_for_the_threshold() -> None:
    assert candidate_probability(NEAR_DUP_THRESHOLD) > 0.99
    assert candidate_probability(0.9) > 0.999
    assert candidate_probability(0.5) < 0.1
    assert candidate_probability(0.3) < 0.002


def test_invalid_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        DedupIndex(threshold=0)
