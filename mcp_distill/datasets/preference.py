"""Preference pairs: which two answers of one task make a (chosen, rejected) pair.

Mining rules
------------
1. ``attempts``, within one run: a run scored accepted or partially_accepted whose records say it
   was accepted on attempt N: the attempt-N output is chosen, each earlier attempt's output (same
   task key) is rejected.
2. ``attempts`` / ``override``, across runs: runs grouped by task key; accepted runs' outputs are
   chosen, rejected runs' outputs are rejected, paired round-robin (max(|accepted|, |rejected|)
   pairs, at most :data:`MAX_PAIRS_PER_TASK`). The source is ``override`` when either run carries
   a human override, else ``attempts``. The prompt is the chosen run's.
3. ``consensus``: an ``audit_discrepancies``-style record with a split vote (votes for and against
   both > 0): the majority's rationale (``output_text``) is chosen, the losing one
   (``extra.rejected``, else a dissenting vote's rationale) rejected. Skipped when the run has a
   human override (the person's decision supersedes the vote) or is needs_human_review.
Both sides must differ after normalisation (:func:`mcp_distill.datasets.neardup.normalize`), and be two
pieces of evidence (:func:`pair_problem`): never one source line on both sides, and within one run
only two different attempts of it. So a consensus candidate, whose two rationales are one record, is
counted and dropped (``pairs_dropped_one_source_line`` in the receipt), never written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mcp_distill.datasets.mine import (
    Candidate,
    Rec,
    RunView,
    attempt_of,
    differ,
    is_output_candidate,
    nonblank,
    provenance,
    record_order,
    record_task_key,
    split_for,
    user_turn,
)

#: Cap on cross-run pairs per task, so one hot task cannot dominate the preference set.
MAX_PAIRS_PER_TASK = 8
#: Reasons of :func:`pair_problem`.
PAIR_PROBLEMS = ("one_source_line", "one_run_without_attempts")
#: Categories whose accepted attempt may be the chosen side of a within-run attempt pair.
ATTEMPT_CATEGORIES = frozenset({"accepted", "partially_accepted"})

#: Why a candidate preference pair was not written (receipt ``details.preference_pairs_dropped``): the
#: counter's name (``pairs_dropped_<reason>`` for :func:`pair_problem`'s reasons) and what it means.
PAIR_DROP_REASONS: dict[str, str] = {
    "one_source_line": "with chosen and rejected on one source line (such as a consensus record's two rationales)",
    "one_run_without_attempts": "from one run without two different attempts",
    "pairs_identical": "with the same text on both sides",
    "preference_equal_after_redaction": "equal once redacted",
    "pairs_no_prompt": "without a prompt record",
    "pairs_missing_record": "whose record is no longer in the store",
    "pairs_consensus_superseded": "of a vote a human override or review superseded",
    "pairs_consensus_incomplete": "of a vote without both rationales and a claim",
    "preference_duplicates_exact": "exact duplicates of a kept pair",
    "preference_duplicates_near": "near duplicates of a kept pair",
    "preference_schema_rejected": "refused by the PreferenceSample schema",
}


def pairs_dropped(stats: Mapping[str, int]) -> dict[str, int]:
    """Candidate pairs not written, by reason (:data:`PAIR_DROP_REASONS`), from an export's counters."""
    return {why: stats[stat] for why, stat in
            ((why, f"pairs_dropped_{why}" if why in PAIR_PROBLEMS else why) for why in PAIR_DROP_REASONS)
            if stats.get(stat)}


def pref_row(prompt: str, chosen: Rec, rejected: Rec, source: str, key: str, chosen_run: str,
             rejected_run: str, scorer_version: str, chosen_text: str | None = None,
             rejected_text: str | None = None, extra_prov: list[dict[str, Any]] | None = None,
             attempts: tuple[int, int] | None = None) -> Candidate:
    """A preference row; provenance[0] is the chosen side's record, provenance[1] the rejected side's;
    ``attempts``: (chosen, rejected) attempt numbers of a pair inside one run."""
    c_text = chosen_text if chosen_text is not None else chosen["output_text"]
    r_text = rejected_text if rejected_text is not None else rejected["output_text"]
    split = split_for(key)
    provs = [provenance(chosen), provenance(rejected), *(extra_prov or [])]
    row = {"prompt": prompt, "chosen": c_text, "rejected": r_text, "metadata": {
        "task_key": key, "source": source, "chosen_run_id": chosen_run, "rejected_run_id": rejected_run,
        "chosen_attempt": attempts[0] if attempts else None, "rejected_attempt": attempts[1] if attempts else None,
        "split": split, "scorer_version": scorer_version, "provenance": provs}}
    return Candidate(row, split, f"{chosen['record_id']}>{rejected['record_id']}", (prompt, c_text, r_text))


def attempt_pairs(view: RunView) -> Iterator[Candidate]:
    """Rule 1: the accepted attempt against each earlier attempt of the same run and task."""
    if view.category not in ATTEMPT_CATEGORIES or view.accepted_attempt is None or view.attempt_conflict:
        return
    chosen = view.output
    if chosen is None or attempt_of(chosen) != view.accepted_attempt:
        return
    key = record_task_key(chosen)
    input_rec = view.input_record(chosen)
    if key is None or input_rec is None:
        return
    prompt = user_turn(input_rec, chosen)
    earlier = sorted((r for r in view.records if is_output_candidate(r) and (attempt_of(r) or 0) >= 1
                      and attempt_of(r) < view.accepted_attempt),  # type: ignore[operator]
                     key=lambda r: (attempt_of(r), record_order(r)))
    for rejected in earlier:
        if record_task_key(rejected) != key or not differ(chosen["output_text"], rejected["output_text"]):
            continue
        extra = [provenance(input_rec)] if input_rec is not chosen else None
        yield pref_row(prompt, chosen, rejected, "attempts", key, view.run_key, view.run_key,
                       view.scorer_version, extra_prov=extra, attempts=(view.accepted_attempt, attempt_of(rejected)))


def pair_problem(row: dict[str, Any]) -> str | None:
    """Why a candidate pair is not two pieces of evidence (None when it is): ``one_source_line`` when chosen
    and rejected trace to the same line, ``one_run_without_attempts`` when they are of one run but not two
    different attempts of it."""
    meta = row["metadata"]
    chosen, rejected = meta["provenance"][0], meta["provenance"][1]
    if (chosen["source_file"], chosen["line_offset"]) == (rejected["source_file"], rejected["line_offset"]):
        return "one_source_line"
    attempts = (meta.get("chosen_attempt"), meta.get("rejected_attempt"))
    if meta["chosen_run_id"] == meta["rejected_run_id"] and (None in attempts or attempts[0] == attempts[1]):
        return "one_run_without_attempts"
    return None


def _losing_rationale(rec: Rec, chosen: str) -> str | None:
    extra = rec.get("extra") or {}
    if nonblank(extra.get("rejected")) and differ(extra["rejected"], chosen):
        return extra["rejected"]
    verdict = str((rec.get("signals") or {}).get("verdict") or "").lower()
    for vote in extra.get("votes") or []:
        if not isinstance(vote, dict):
            continue
        why = vote.get("rationale") or vote.get("reason")
        if nonblank(why) and str(vote.get("verdict") or "").lower() != verdict and differ(why, chosen):
            return why
    return None


def consensus_pairs(view: RunView) -> Iterator[tuple[Candidate | None, str | None]]:
    """Rule 3: split votes; yields (row, None) or (None, reason skipped)."""
    for rec in view.records:
        signals = rec.get("signals") or {}
        votes_for, votes_against = signals.get("votes_for"), signals.get("votes_against")
        if not votes_for or not votes_against:
            continue
        if view.overridden or view.category == "needs_human_review":
            yield None, "consensus_superseded"
            continue
        chosen, claim = nonblank(rec.get("output_text")), nonblank(rec.get("input_text"))
        key = record_task_key(rec)
        losing = _losing_rationale(rec, chosen) if chosen else None
        if not chosen or not claim or not losing or key is None:
            yield None, "consensus_incomplete"
            continue
        pr = rec.get("pr_number")
        head = f" @ {rec['head_sha'][:12]}" if rec.get("head_sha") else ""
        prompt = f"PR #{pr}{head} claims: {claim}" if pr is not None else claim
        yield pref_row(prompt, rec, rec, "consensus", key, view.run_key, view.run_key, view.scorer_version,
                       chosen_text=chosen, rejected_text=losing), None


def cross_run_pairs(accepted: list[str], rejected: list[str]) -> list[tuple[str, str]]:
    """Rule 2's pairing: round-robin over sorted run keys, max(|a|, |r|) pairs, capped."""
    if not accepted or not rejected:
        return []
    n = min(max(len(accepted), len(rejected)), MAX_PAIRS_PER_TASK)
    return [(accepted[i % len(accepted)], rejected[i % len(rejected)]) for i in range(n)]
