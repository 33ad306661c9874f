"""Ledger rules, pure (no store): who did a run, its outcome and failure reasons, partner pairs,
the Wilson bound, the latency histogram and the model config.

The rules (deterministic; the same store always gives the same ledger):

* **Who did a run.** The models named on a run's evidence records (``model_name``), except records
  whose ``model_role`` is a judge role (observer, verifier, extractor... see ``defaults/models.toml``).
  Their records, ordered by time then evidence id, form the run's *attempt sequence*. A model's task
  type is the first one its records name, else the run's, else ``unspecified``.
* **Roles.** An explicit ``model_role`` of primary / escalation / fallback on a model's records wins.
  Otherwise the first model of the sequence is *primary* (or *escalation* when it is the accepted
  model and ``signals.accepted_on_attempt`` > 1: its earlier attempts went unrecorded); a later
  model is a *fallback* when the model before it ended in a call error (``signals.error_count`` > 0
  or a ``call error`` failure marker), else an *escalation*. An entry's role is its most frequent one.
* **Outcome.** The *finisher* is the model of the last record carrying ``accepted_on_attempt``, else
  the model of the last record. It gets the run's category: accepted = success,
  partially_accepted = partial, rejected = failure. Models last seen before the finisher failed (the
  loop moved on from them); models seen only after it, and every model of an unscored or
  needs_human_review run, are *undecided*: they count for latency, cost and roles, not for the rate.
* **Success rate.** ``success_count / sample_count`` where sample_count counts the decisive runs
  (success + partial + failure): a partial run is a sample but not a success. Entries rank by the
  95% Wilson lower bound (:func:`wilson_lower_bound`), so three lucky runs never beat ninety good ones.
* **Failure modes.** Per failed or partial (run, model), the reasons: the negative/partial votes of
  the model's own records; for the finisher, a human override or the run's negative/partial scorer
  reasons first; else the model's failure markers (including ``attempt N (model) ...`` markers that
  name it); else "replaced by a later model". Counted once per run; the three most frequent are shown.
* **Best partner.** In a *unit* (runs sharing the task_id their first record names, else one run), by time,
  a run's failures before its success: B is a partner of A when B succeeded after A failed.
  Each (A, B) pair counts once per unit; the most frequent B is the best partner.
* **Latency** p50/p95 are nearest-rank percentiles of per-call ``latency_ms`` samples, read from a
  histogram of log-spaced bins (ratio 1.02): the value reported is the bin's geometric centre, within
  1% of the exact percentile for latencies >= 1 ms (values < 1 ms report 0.5 ms). **Cost** is per run
  (the model's ``cost_usd`` summed over its records in the run): mean over runs with a cost, and total.
  **last_updated** is the time of the newest evidence behind the entry (so it is deterministic).
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from mcp_distill.config import read_toml
from mcp_distill.errors import ConfigError, InvalidInputError

LEDGER_VERSION = "ledger-1"
DEFAULT_MODELS = Path(__file__).parent.parent / "defaults" / "models.toml"
MODELS_ENV = "MCP_DISTILL_MODELS"
Z95 = 1.959963984540054
#: Ratio between successive latency bins: the reported percentile is within sqrt(1.02) - 1 < 1%.
BIN_RATIO = 1.02
_LOG_RATIO = math.log(BIN_RATIO)
TOP_FAILURE_MODES = 3
UNSPECIFIED = "unspecified"
SEQUENCE_ROLES = ("primary", "escalation", "fallback")
DECISIVE = {"accepted": "success", "partially_accepted": "partial", "rejected": "failure"}
_ATTEMPT_MARKER = re.compile(r"^attempt \S+ \((?P<model>[^()]+)\) (?P<what>.+)$")
_CONFIDENCE = re.compile(r"\s*\(confidence [0-9.]+\)")
_OVERRIDE_BY = re.compile(r"^human override by [^:]*:")

Key = tuple[str, str]


# ----------------------------------------------------------------------------- pure statistics


def wilson_lower_bound(successes: float, n: int, z: float = Z95) -> float:
    """Lower end of the Wilson score interval for a binomial proportion (z = 1.96: 95%).

        p = successes / n
        lower = (p + z^2 / (2n) - z * sqrt(p (1 - p) / n + z^2 / (4 n^2))) / (1 + z^2 / n)

    0.0 when n == 0. Small samples get a low bound (3/3 -> 0.44) while a large one stays near its
    rate (90/100 -> 0.83), which is why entries rank by it.
    """
    if n <= 0:
        return 0.0
    if not 0 <= successes <= n:
        raise InvalidInputError(f"successes must lie in 0..n, got {successes} of {n}")
    p = successes / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, (centre - margin) / (1 + z2 / n))


def latency_bin(ms: float) -> int:
    """Histogram bin of a latency: 0 for < 1 ms, else 1 + floor(log_1.02(ms))."""
    return 0 if ms < 1 else 1 + math.floor(math.log(ms) / _LOG_RATIO)


def bin_value(b: int) -> float:
    """The value a bin reports: its geometric centre (0.5 ms for bin 0)."""
    return 0.5 if b <= 0 else BIN_RATIO ** (b - 0.5)


def hist_percentile(hist: dict[int, int], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of a {bin: count} histogram, or None when empty."""
    n = sum(c for c in hist.values() if c > 0)
    if n == 0:
        return None
    rank = max(1, math.ceil(p / 100 * n))
    seen = 0
    for b in sorted(hist):
        seen += max(0, hist[b])
        if seen >= rank:
            return round(bin_value(b), 3)
    return round(bin_value(max(hist)), 3)


# ----------------------------------------------------------------------------- model config


@dataclass(frozen=True)
class ModelInfo:
    provider: str | None = None
    context_window: int | None = None


@dataclass(frozen=True)
class ModelConfig:
    """The user-editable model config: per-name facts (exact names, then globs in order), judge roles."""

    exact: dict[str, ModelInfo]
    globs: tuple[tuple[str, ModelInfo], ...]
    judge_roles: frozenset[str]
    path: str

    def lookup(self, model_name: str) -> ModelInfo:
        name = model_name.lower()
        if name in self.exact:
            return self.exact[name]
        for pattern, info in self.globs:
            if fnmatch.fnmatchcase(name, pattern):
                return info
        return ModelInfo()

    @property
    def fingerprint(self) -> str:
        """What changes aggregation (not the per-model facts, which are read at query time)."""
        text = f"{LEDGER_VERSION}|{','.join(sorted(self.judge_roles))}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_model_config(path: str | Path | None = None) -> ModelConfig:
    """Read models.toml: ``path``, else $MCP_DISTILL_MODELS, else the shipped default."""
    cfg_path = Path(path or os.environ.get(MODELS_ENV) or DEFAULT_MODELS).expanduser()
    data = read_toml(cfg_path, "model config", f"copy {DEFAULT_MODELS} and edit it")
    unknown = set(data) - {"ledger", "models"}
    if unknown:
        raise ConfigError(f"model config {cfg_path}: unknown section(s) {sorted(unknown)}; use [ledger] and "
                          f"[models.\"<name or glob>\"] (see {DEFAULT_MODELS})")
    ledger = data.get("ledger", {})
    roles = ledger.get("judge_roles", [])
    if set(ledger) - {"judge_roles"} or not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise ConfigError(f"model config {cfg_path}: [ledger] takes only judge_roles = [\"role\", ...]")
    exact: dict[str, ModelInfo] = {}
    globs: list[tuple[str, ModelInfo]] = []
    for name, spec in data.get("models", {}).items():
        if not isinstance(spec, dict) or set(spec) - {"provider", "context_window"}:
            raise ConfigError(f"model config {cfg_path}: [models.\"{name}\"] takes only provider and context_window")
        provider, window = spec.get("provider"), spec.get("context_window")
        if provider is not None and not isinstance(provider, str):
            raise ConfigError(f"model config {cfg_path}: [models.\"{name}\"] provider must be a string")
        if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window <= 0):
            raise ConfigError(f"model config {cfg_path}: [models.\"{name}\"] context_window must be a positive "
                              "integer (tokens)")
        info = ModelInfo(provider, window)
        if any(ch in name for ch in "*?["):
            globs.append((name.lower(), info))
        else:
            exact[name.lower()] = info
    return ModelConfig(exact, tuple(globs), frozenset(r.lower() for r in roles), str(cfg_path))


# ----------------------------------------------------------------------------- per-run contributions


class EvidenceRow(NamedTuple):
    """The fields of one model-bearing evidence record that the ledger reads (one SQL row, as is)."""

    run_key: str
    id: int
    record_id: str
    model: str
    task_type: str | None
    task_id: str | None
    epoch: float | None
    ingested_at: str
    latency: float | None
    cost: float | None
    role: str | None
    provider: str | None
    errored: int
    accepted_on_attempt: int | None
    markers_json: str | None

    @property
    def markers(self) -> list[str]:
        return [str(m) for m in orjson.loads(self.markers_json)] if self.markers_json else []


@dataclass(slots=True)
class Contribution:
    """What one model contributed to one run, for one task type."""

    run_key: str
    task_type: str
    model_name: str
    unit_key: str
    seq_epoch: float | None
    position: int
    role: str
    outcome: str
    cost_nano: int | None
    latencies: list[float]
    reasons: list[str]
    provider: str | None
    updated_epoch: float


def _mode(text: str) -> str:
    """A failure reason as a groupable failure mode: confidences and reviewer names dropped, length capped."""
    text = _OVERRIDE_BY.sub("human override:", _CONFIDENCE.sub("", text)).removesuffix("; overrides always win")
    return " ".join(text.split())[:200]


def _epoch_of(row: EvidenceRow) -> float:
    if row.epoch is not None:
        return row.epoch
    try:
        return datetime.fromisoformat(row.ingested_at).timestamp()
    except ValueError:
        return 0.0


def _seq_key(r: EvidenceRow) -> tuple[bool, float, int]:
    return (r.epoch is None, r.epoch or 0.0, r.id)


def _call_error(r: EvidenceRow) -> bool:
    return bool(r.errored) or any(m.lower().startswith("call error") for m in r.markers)


def run_contributions(run_key: str, rows: Iterable[EvidenceRow], category: str | None, reasons: list[str],
                      votes: list[dict[str, Any]], run_task_type: str | None,
                      judge_roles: frozenset[str]) -> list[Contribution]:
    """The contributions of one run. Pure: the same evidence and score give the same result."""
    actors = [r for r in rows if not r.role or r.role.lower() not in judge_roles]
    if not actors:
        return []
    actors.sort(key=_seq_key)
    by_model: dict[str, list[EvidenceRow]] = {}  # insertion order = order of first appearance
    last_index: dict[str, int] = {}
    finisher = actors[-1].model
    for i, r in enumerate(actors):
        by_model.setdefault(r.model, []).append(r)
        last_index[r.model] = i
    named = [r.model for r in actors if r.accepted_on_attempt is not None]
    finisher = named[-1] if named else finisher
    run_outcome = DECISIVE.get(category or "")
    seq_epoch = next((r.epoch for r in actors if r.epoch is not None), None)
    task_id = next((r.task_id for r in actors if r.task_id), None)  # one partner unit for the whole run
    unit_key = f"task\x1f{task_id}" if task_id else f"run\x1f{run_key}"
    out: list[Contribution] = []
    previous: list[EvidenceRow] = []
    for position, (model, recs) in enumerate(by_model.items()):
        task_type = provider = explicit = None
        latencies: list[float] = []
        cost_nano: int | None = None
        late, updated = 0, 0.0
        for r in recs:  # one pass: the first non-empty value of each field, sums, maxima
            task_type, provider = task_type or r.task_type, provider or r.provider
            if explicit is None and r.role and r.role.lower() in SEQUENCE_ROLES:
                explicit = r.role.lower()
            if r.latency is not None:
                latencies.append(r.latency)
            if r.cost is not None:
                cost_nano = (cost_nano or 0) + round(r.cost * 1e9)
            late = max(late, r.accepted_on_attempt or 0)
            updated = max(updated, _epoch_of(r))
        if explicit:
            role = explicit
        elif position == 0:
            role = "escalation" if model == finisher and late > 1 else "primary"
        else:
            role = "fallback" if any(_call_error(r) for r in previous) else "escalation"
        previous = recs
        if run_outcome is None:
            outcome = "undecided"
        elif model == finisher:
            outcome = run_outcome
        else:
            outcome = "failure" if last_index[model] < last_index[finisher] else "undecided"
        why = _failure_reasons(model, model == finisher, actors, reasons, votes) if outcome in (
            "failure", "partial") else []
        out.append(Contribution(run_key, task_type or run_task_type or UNSPECIFIED, model, unit_key, seq_epoch,
                                position, role, outcome, cost_nano, latencies, why, provider, updated))
    return out


def _failure_reasons(model: str, is_finisher: bool, actors: list[EvidenceRow], reasons: list[str],
                     votes: list[dict[str, Any]]) -> list[str]:
    """Why ``model`` failed in this run: the first non-empty source, in the order the module doc gives."""
    own_ids = {r.record_id for r in actors if r.model == model}

    def own_votes() -> list[str]:
        return [_mode(f"{v.get('detail', '')} -> {v.get('vote')}") for v in votes
                if v.get("vote") in ("negative", "partial") and v.get("record_id") in own_ids]

    def markers() -> list[str]:
        found = []
        for r in actors:
            for marker in r.markers:
                if (m := _ATTEMPT_MARKER.match(marker)) is not None:
                    if m["model"] == model:  # "attempt 2 (model) rejected: ..." names the model it is about
                        found.append(_mode(m["what"]))
                elif r.model == model:
                    found.append(_mode(marker))
        return found

    if is_finisher:
        sources = [lambda: [_mode(r) for r in reasons if r.startswith("human override")], own_votes,
                   lambda: [_mode(r) for r in reasons if r.endswith(("-> negative", "-> partial"))], markers]
    else:
        sources = [own_votes, markers]
    for source in sources:
        if found := source():
            return sorted(set(found))
    return ["no failure reason recorded" if is_finisher else "replaced by a later model"]


# ----------------------------------------------------------------------------- partner pairs


def unit_pairs(rows: Iterable[tuple[str, str, str, float | None, str]]) -> set[tuple[str, str, str]]:
    """(task_type, model, partner) pairs of one unit: partner succeeded after model failed.

    ``rows`` are (task_type, model, run_key, seq_epoch, outcome); runs are ordered by time, and a
    run's failures come before its success (the finisher is last in its run by construction).
    """
    ordered = sorted(rows, key=lambda r: (r[0], r[3] is None, r[3] or 0.0, r[2], r[4] == "success"))
    pairs: set[tuple[str, str, str]] = set()
    failed: dict[str, set[str]] = {}
    for task_type, model, _run, _epoch, outcome in ordered:
        if outcome == "failure":
            failed.setdefault(task_type, set()).add(model)
        elif outcome == "success":
            pairs.update((task_type, a, model) for a in failed.get(task_type, ()) if a != model)
    return pairs

