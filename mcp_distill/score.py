"""Success Scorer: one deterministic function from a run's evidence to exactly one category.

No LLM, ever. The rules are data (``defaults/scoring.toml``, overridable by the user); this module
turns each record's signals into votes (:func:`votes_for_record`) and the votes into a category
(:func:`combine`). Both are pure. ``scorer_version`` = code version + a hash of the rules text, so
a score always says which rules made it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, Field, ValidationError, model_validator

from mcp_distill.collect.repository import run_keys, run_keys_scored_by, save_scores
from mcp_distill.collect.runs import resolve_run_key, run_records
from mcp_distill.config import read_toml
from mcp_distill.errors import ConfigError
from mcp_distill.models import EvidenceRecord, ScoredRun, SignalVote
from mcp_distill.progress import Progress
from mcp_distill.receipts import ReceiptBuilder, now_utc
from mcp_distill.store import Store

SCORER_CODE_VERSION = "score-1"
DEFAULT_RULES = Path(__file__).parent / "defaults" / "scoring.toml"
#: Signals that adjust a decision but never make one on their own.
WEAK_SIGNALS = frozenset({"attempts", "errors"})
#: Runs scored per transaction.
SCORE_BATCH = 500


class _Rules(BaseModel):
    """A typo in the rules file must be an error, not a silently ignored key."""

    model_config = {"extra": "forbid"}


class WordVotes(_Rules):
    positive: list[str] = Field(default_factory=list)
    negative: list[str] = Field(default_factory=list)
    partial: list[str] = Field(default_factory=list)

    def vote(self, word: str | None) -> str | None:
        if word is None:
            return None
        w = str(word).strip().lower()
        for kind in ("negative", "partial", "positive"):
            if w in (x.lower() for x in getattr(self, kind)):
                return kind
        return None


class VerdictRules(WordVotes):
    min_confidence: float = Field(0.5, ge=0, le=1)


class ValidationRules(_Rules):
    enabled: bool = True


class ConsensusRules(_Rules):
    accept_share: float = Field(0.66, ge=0, le=1)
    reject_share: float = Field(0.34, ge=0, le=1)


class AttemptRules(_Rules):
    late_attempt: int = Field(3, ge=1)


class ErrorRules(_Rules):
    max_errors: int = Field(3, ge=0)


class ScoringRules(_Rules):
    """The rules; a user file overrides the shipped defaults key by key (a section left out keeps them)."""

    verdict: VerdictRules = Field(default_factory=VerdictRules)
    severity: WordVotes = Field(default_factory=WordVotes)
    applier: WordVotes = Field(default_factory=WordVotes)
    validation: ValidationRules = Field(default_factory=ValidationRules)
    consensus: ConsensusRules = Field(default_factory=ConsensusRules)
    outcome: WordVotes = Field(default_factory=WordVotes)
    attempts: AttemptRules = Field(default_factory=AttemptRules)
    errors: ErrorRules = Field(default_factory=ErrorRules)
    version: str = "unset"

    @model_validator(mode="after")
    def _consistent(self) -> ScoringRules:
        if self.consensus.reject_share >= self.consensus.accept_share:
            raise ValueError("consensus.reject_share must be below consensus.accept_share")
        for name in ("verdict", "severity", "applier", "outcome"):
            words: WordVotes = getattr(self, name)
            seen: dict[str, str] = {}
            for kind in ("positive", "negative", "partial"):
                for word in getattr(words, kind):
                    w = word.strip().lower()
                    if w in seen and seen[w] != kind:
                        raise ValueError(f"{name}: '{word}' is both {seen[w]} and {kind}")
                    seen[w] = kind
        return self


def load_rules(path: str | Path | None = None) -> ScoringRules:
    """Read a rules file (default: the shipped one). A bad file raises ConfigError naming the problem."""
    rules_path = Path(path) if path else DEFAULT_RULES
    data = _merge(read_toml(DEFAULT_RULES, "rules file", "reinstall mcp-distill"),
                  read_toml(rules_path, "rules file", f"copy {DEFAULT_RULES} and edit it"))
    try:
        rules = ScoringRules.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"rules file {rules_path}: {where}: {first['msg']}; see {DEFAULT_RULES}") from exc
    # the version hashes the rules in force (defaults merged), so equal rules give equal versions
    digest = hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]
    rules.version = f"{SCORER_CODE_VERSION}+{digest}"
    return rules


def _merge(defaults: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    """The user's keys over the defaults, section by section: an empty user file means the defaults."""
    merged = dict(defaults)
    for key, value in user.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _vote(signal: str, kind: str, detail: str, record: EvidenceRecord) -> SignalVote:
    return SignalVote(signal=signal, vote=kind, detail=detail, record_id=record.record_id)  # type: ignore[arg-type]


def votes_for_record(record: EvidenceRecord, rules: ScoringRules) -> list[SignalVote]:
    """The votes one record casts. Pure: the same record and rules give the same votes."""
    s = record.signals
    out: list[SignalVote] = []
    where = f"{record.stream}"
    if s.verdict is not None:
        kind = rules.verdict.vote(s.verdict)
        source = s.verdict_source or record.stream
        conf = f" (confidence {s.confidence:.2f})" if s.confidence is not None else ""
        if kind and s.confidence is not None and s.confidence < rules.verdict.min_confidence:
            out.append(_vote(f"{source}_verdict", "neutral",
                             f"{source} verdict '{s.verdict}'{conf} below min_confidence "
                             f"{rules.verdict.min_confidence}: not counted", record))
        elif kind:
            out.append(_vote(f"{source}_verdict", kind, f"{source} verdict '{s.verdict}'{conf} in {where}", record))
    if s.severity is not None and (kind := rules.severity.vote(s.severity)):
        out.append(_vote("auditor_severity", kind, f"auditor severity '{s.severity}' in {where}", record))
    if s.applier_action is not None and (kind := rules.applier.vote(s.applier_action)):
        patches = f", {s.patches_applied} patches applied" if s.patches_applied is not None else ""
        out.append(_vote("applier", kind, f"applier action '{s.applier_action}'{patches}", record))
    if rules.validation.enabled and record.validation_results:
        passed = sum(1 for v in record.validation_results if v.passed)
        failed = len(record.validation_results) - passed
        kind = "positive" if failed == 0 else "negative" if passed == 0 else "partial"
        out.append(_vote("validation", kind, f"validation {passed} passed, {failed} failed in {where}", record))
    if s.votes_for is not None and s.votes_against is not None and (s.votes_for + s.votes_against) > 0:
        share = s.votes_for / (s.votes_for + s.votes_against)
        c = rules.consensus
        kind = "positive" if share >= c.accept_share else "negative" if share <= c.reject_share else "partial"
        out.append(_vote("consensus", kind, f"consensus {s.votes_for} for / {s.votes_against} against", record))
    if s.outcome is not None and (kind := rules.outcome.vote(s.outcome)):
        out.append(_vote("outcome", kind, f"outcome '{s.outcome}' in {where}", record))
    if s.accepted_on_attempt is not None and s.accepted_on_attempt >= rules.attempts.late_attempt:
        out.append(_vote("attempts", "partial", f"accepted only on attempt {s.accepted_on_attempt}", record))
    if s.error_count is not None and s.error_count > rules.errors.max_errors:
        out.append(_vote("errors", "partial", f"{s.error_count} errors (more than {rules.errors.max_errors})", record))
    return out


def _override_time(record: EvidenceRecord) -> datetime:
    assert record.human_override is not None
    t = record.human_override.decided_at or record.timestamp
    return t if t is not None else datetime.min.replace(tzinfo=UTC)


def combine(records: list[EvidenceRecord], rules: ScoringRules) -> tuple[str, list[str], list[SignalVote]]:
    """Category, reasons and votes for one run's records. Pure and order-independent."""
    records = sorted(records, key=lambda r: r.record_id)
    votes = [v for r in records for v in votes_for_record(r, rules)]
    overrides = sorted((r for r in records if r.human_override), key=lambda r: (_override_time(r), r.record_id))
    if overrides:
        last = overrides[-1]
        o = last.human_override
        assert o is not None
        who = f" by {o.reviewer}" if o.reviewer else ""
        reasons = [f"human override{who}: {o.category} ({o.reason}); overrides always win"]
        reasons += [f"overridden: {v.detail} -> {v.vote}" for v in votes if v.vote != "neutral"]
        return o.category, reasons, votes
    strong = [v for v in votes if v.vote != "neutral" and v.signal not in WEAK_SIGNALS]
    weak = [v for v in votes if v.vote != "neutral" and v.signal in WEAK_SIGNALS]
    notes = [v.detail for v in votes if v.vote == "neutral"]
    kinds = {v.vote for v in strong}
    described = [f"{v.detail} -> {v.vote}" for v in strong + weak]
    if not strong:
        streams = ", ".join(sorted({r.stream for r in records})) or "none"
        reason = f"no outcome signal among {len(records)} record(s) (streams: {streams}): needs a human decision"
        return "needs_human_review", [reason, *described, *notes], votes
    if "positive" in kinds and "negative" in kinds:
        pos = sum(v.vote == "positive" for v in strong)
        neg = sum(v.vote == "negative" for v in strong)
        reason = f"conflicting signals: {pos} positive vs {neg} negative"
        return "needs_human_review", [reason, *described, *notes], votes
    if "negative" in kinds:
        category = "rejected"
    elif "positive" in kinds and "partial" not in kinds and not weak:
        category = "accepted"
    else:
        category = "partially_accepted"
    return category, [*described, *notes], votes


def score_records(run_key: str, records: list[EvidenceRecord], rules: ScoringRules,
                  scored_at: datetime | None = None) -> ScoredRun:
    category, reasons, votes = combine(records, rules)
    return ScoredRun(
        evidence_run_id=run_key,
        category=category,  # type: ignore[arg-type]
        reasons=reasons,
        votes=votes,
        scored_at=scored_at or now_utc(),
        scorer_version=rules.version,
    )


def score_runs(store: Store, rules: ScoringRules, run: str | None = None, rescore: bool = False,
               progress: Progress | None = None,
               command: str = "score") -> dict[str, Any]:
    """Score one run, every unscored run, or (rescore) every run. Writes a receipt."""
    receipt = ReceiptBuilder("score", command)
    if run is not None:
        keys = [resolve_run_key(store, run)]
    elif rescore:
        keys = run_keys(store)
    else:
        current = run_keys_scored_by(store, rules.version)
        keys = [key for key in run_keys(store) if key not in current]
    counts: dict[str, int] = {}
    results: list[ScoredRun] = []
    pending: list[tuple[ScoredRun, int]] = []
    for i, key in enumerate(keys):
        records = run_records(store, key)
        scored = score_records(key, records, rules)
        pending.append((scored, len(records)))
        counts[scored.category] = counts.get(scored.category, 0) + 1
        receipt.count_in += len(records)
        if run is not None:
            results.append(scored)
        if len(pending) >= SCORE_BATCH:
            save_scores(store, pending)
            pending = []
        if progress and (i % 100 == 0 or i == len(keys) - 1):
            progress(i + 1, len(keys), key)
    if pending:
        save_scores(store, pending)
    receipt.count_out = len(keys)
    for category, n in counts.items():
        receipt.count(category, n)
    receipt.details["scorer_version"] = rules.version
    receipt_obj = receipt.finish(store, validation_pass=True)
    return {
        "scored": len(keys),
        "by_category": counts,
        "scorer_version": rules.version,
        "receipt_id": receipt_obj.receipt_id,
        "runs": [r.model_dump(mode="json") for r in results],
    }
