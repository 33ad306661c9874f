"""Model Routing Ledger: how each model fares on each task type, and which model to route a task to.

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

Incrementality: see ``migrations/m006_ledger.py``. A refresh recomputes only runs with new
evidence (``evidence.id`` above the high-water mark) or a changed score/run membership
(``ledger_dirty``, filled by triggers), subtracting their previous contribution and adding the new.
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
import os
import re
import threading
import time
import tomllib
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from pydantic import BaseModel, Field, ValidationError

from .errors import ConfigError, InvalidInputError, NotFoundError
from .models import ModelLedgerEntry
from .receipts import ReceiptBuilder
from .store import Connection, Store

LEDGER_VERSION = "ledger-1"
DEFAULT_MODELS = Path(__file__).parent / "defaults" / "models.toml"
MODELS_ENV = "MCP_DISTILL_MODELS"
Z95 = 1.959963984540054
#: Ratio between successive latency bins: the reported percentile is within sqrt(1.02) - 1 < 1%.
BIN_RATIO = 1.02
_LOG_RATIO = math.log(BIN_RATIO)
#: Runs recomputed per write transaction.
BATCH_RUNS = 5_000
TOP_FAILURE_MODES = 3
UNSPECIFIED = "unspecified"
SEQUENCE_ROLES = ("primary", "escalation", "fallback")
DECISIVE = {"accepted": "success", "partially_accepted": "partial", "rejected": "failure"}
_ATTEMPT_MARKER = re.compile(r"^attempt \S+ \((?P<model>[^()]+)\) (?P<what>.+)$")
_CONFIDENCE = re.compile(r"\s*\(confidence [0-9.]+\)")
_OVERRIDE_BY = re.compile(r"^human override by [^:]*:")

Progress = Callable[[int, int, str], None]
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
    try:
        data = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"model config {cfg_path} not found; copy {DEFAULT_MODELS} and edit it") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"model config {cfg_path} is not valid TOML: {exc}; fix it and re-run") from exc
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


# ----------------------------------------------------------------------------- aggregation deltas


def _zero() -> dict[str, Any]:
    return {"runs": 0, "sample_count": 0, "success_count": 0, "partial_count": 0, "cost_runs": 0,
            "cost_nano": 0, "latency_n": 0, "hist": Counter(), "roles": Counter(), "providers": Counter()}


class _Delta:
    """Signed changes to the aggregate tables, summed in memory and applied once per batch."""

    def __init__(self) -> None:
        self.entries: dict[Key, dict[str, Any]] = {}
        self.failures: Counter[tuple[str, str, str]] = Counter()
        self.partners: Counter[tuple[str, str, str]] = Counter()

    def add(self, c: Contribution, sign: int) -> None:
        e = self.entries.get((c.task_type, c.model_name))
        if e is None:
            e = self.entries[(c.task_type, c.model_name)] = _zero()
        e["runs"] += sign
        if c.outcome != "undecided":
            e["sample_count"] += sign
        if c.outcome == "success":
            e["success_count"] += sign
        elif c.outcome == "partial":
            e["partial_count"] += sign
        if c.cost_nano is not None:
            e["cost_runs"] += sign
            e["cost_nano"] += sign * c.cost_nano
        for ms in c.latencies:
            e["hist"][latency_bin(ms)] += sign
        e["latency_n"] += sign * len(c.latencies)
        e["roles"][c.role] += sign
        if c.provider:
            e["providers"][c.provider] += sign
        for reason in c.reasons:
            self.failures[(c.task_type, c.model_name, reason)] += sign

    def add_pairs(self, pairs: Iterable[tuple[str, str, str]], sign: int) -> None:
        for pair in pairs:
            self.partners[pair] += sign


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


def _contribution_pairs(contribs: list[Contribution]) -> set[tuple[str, str, str]]:
    return unit_pairs((c.task_type, c.model_name, c.run_key, c.seq_epoch, c.outcome) for c in contribs)


# ----------------------------------------------------------------------------- reading the store

_EVIDENCE_SQL = (
    "SELECT run_key, id, record_id, model_name, task_type, task_id, ts_epoch, ingested_at, "
    "json_extract(data, '$.latency_ms'), json_extract(data, '$.cost_usd'), json_extract(data, '$.model_role'), "
    "json_extract(data, '$.model_provider'), coalesce(json_extract(data, '$.signals.error_count'), 0) > 0, "
    "json_extract(data, '$.signals.accepted_on_attempt'), json_extract(data, '$.failure_markers') "
    "FROM evidence WHERE model_name IS NOT NULL AND run_key IN ({marks})"
)
_CONTRIB_COLUMNS = ("run_key, task_type, model_name, unit_key, seq_epoch, position, role, outcome, cost_nano, "
                    "latencies, reasons, provider, updated_epoch")


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _load_evidence(conn: Connection, keys: list[str]) -> tuple[dict[str, list[EvidenceRow]], int]:
    by_run: dict[str, list[EvidenceRow]] = {}
    n = 0
    for row in conn.execute(_EVIDENCE_SQL.format(marks=_marks(len(keys))), keys):
        n += 1
        by_run.setdefault(row[0], []).append(EvidenceRow._make(row))
    return by_run, n


def _load_contributions(conn: Connection, keys: list[str]) -> list[Contribution]:
    rows = conn.execute(f"SELECT {_CONTRIB_COLUMNS} FROM ledger_run WHERE run_key IN ({_marks(len(keys))})", keys)
    return [Contribution(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], orjson.loads(r[9]),
                         orjson.loads(r[10]), r[11], r[12]) for r in rows]


def _unit_pairs_in_store(conn: Connection, units: Iterable[str]) -> Counter[tuple[str, str, str]]:
    """Pairs of each task_id unit as the ledger_run table holds it now, summed over units."""
    total: Counter[tuple[str, str, str]] = Counter()
    for unit in sorted(units):
        rows = conn.execute("SELECT task_type, model_name, run_key, seq_epoch, outcome FROM ledger_run "
                            "WHERE unit_key = ? AND unit_key LIKE 'task%'", (unit,)).fetchall()
        total.update(unit_pairs(rows))
    return total


def _per_run_pairs(contribs: list[Contribution]) -> Counter[tuple[str, str, str]]:
    by_run: dict[str, list[Contribution]] = {}
    for c in contribs:
        if c.unit_key.startswith("run"):
            by_run.setdefault(c.run_key, []).append(c)
    total: Counter[tuple[str, str, str]] = Counter()
    for group in by_run.values():
        if len(group) > 1:
            total.update(_contribution_pairs(group))
    return total


def _process_batch(conn: Connection, keys: list[str], judge_roles: frozenset[str], delta: _Delta,
                   full: bool) -> tuple[int, int]:
    """Recompute the runs ``keys`` inside the caller's transaction, adding the changes to ``delta``.

    Incremental: the caller applies ``delta`` in the same transaction. Full rebuild (empty tables):
    the caller applies one delta at the end. Returns (evidence rows read, contributions written).
    """
    old = [] if full else _load_contributions(conn, keys)
    by_run, n_rows = _load_evidence(conn, keys)
    marks = _marks(len(keys))
    scores = {r[0]: r[1:] for r in conn.execute(
        f"SELECT run_key, category, reasons, votes FROM scores WHERE run_key IN ({marks})", keys)}
    run_types = dict(conn.execute(f"SELECT run_key, task_type FROM runs WHERE run_key IN ({marks})", keys).fetchall())
    new: list[Contribution] = []
    for key in keys:
        rows = by_run.get(key)
        if not rows:
            continue
        category, reasons_raw, votes_raw = scores.get(key, (None, None, None))
        needs_why = category in ("rejected", "partially_accepted") or (
            category == "accepted" and len({r.model for r in rows}) > 1)
        reasons = orjson.loads(reasons_raw) if needs_why and reasons_raw else []
        votes = orjson.loads(votes_raw) if needs_why and votes_raw else []
        new.extend(run_contributions(key, rows, category, reasons, votes, run_types.get(key), judge_roles))
    for c in old:
        delta.add(c, -1)
    for c in new:
        delta.add(c, +1)
    delta.add_pairs(_per_run_pairs(old).elements(), -1)
    delta.add_pairs(_per_run_pairs(new).elements(), +1)
    task_units = {c.unit_key for c in (*old, *new) if c.unit_key.startswith("task")}
    if task_units:
        delta.add_pairs(_unit_pairs_in_store(conn, task_units).elements(), -1)
    if not full:
        conn.execute(f"DELETE FROM ledger_run WHERE run_key IN ({marks})", keys)
    conn.executemany(
        f"INSERT INTO ledger_run({_CONTRIB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(c.run_key, c.task_type, c.model_name, c.unit_key, c.seq_epoch, c.position, c.role, c.outcome, c.cost_nano,
          orjson.dumps(c.latencies).decode(), orjson.dumps(c.reasons).decode(), c.provider, c.updated_epoch)
         for c in new],
    )
    if task_units:
        delta.add_pairs(_unit_pairs_in_store(conn, task_units).elements(), +1)
    return n_rows, len(new)


def _merge_counter(stored: str | None, change: Counter[Any]) -> dict[str, int]:
    merged = Counter({k: v for k, v in orjson.loads(stored or "{}").items()})
    for k, v in change.items():
        merged[str(k)] += v
    return {k: merged[k] for k in sorted(merged, key=lambda s: (len(s), s)) if merged[k] > 0}


_NUMERIC = ("runs", "sample_count", "success_count", "partial_count", "cost_runs", "cost_nano", "latency_n")


def _apply(conn: Connection, delta: _Delta) -> None:
    for key, d in delta.entries.items():
        row = conn.execute(f"SELECT {', '.join(_NUMERIC)}, hist, roles, providers FROM ledger_entry "
                           "WHERE task_type = ? AND model_name = ?", key).fetchone()
        numbers = [(row[i] if row else 0) + d[name] for i, name in enumerate(_NUMERIC)]
        if numbers[0] <= 0:
            conn.execute("DELETE FROM ledger_entry WHERE task_type = ? AND model_name = ?", key)
            continue
        blobs = [orjson.dumps(_merge_counter(row[len(_NUMERIC) + i] if row else None, d[name])).decode()
                 for i, name in enumerate(("hist", "roles", "providers"))]
        updated = conn.execute("SELECT max(updated_epoch) FROM ledger_run WHERE task_type = ? AND model_name = ?",
                               key).fetchone()[0]
        conn.execute(
            f"INSERT OR REPLACE INTO ledger_entry(task_type, model_name, {', '.join(_NUMERIC)}, hist, roles, "
            "providers, updated_epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*key, *numbers, *blobs, updated),
        )
    for table, column, counts in (("ledger_failure", "reason", delta.failures),
                                  ("ledger_partner", "partner", delta.partners)):
        changed = [(*k, n) for k, n in sorted(counts.items()) if n != 0]
        conn.executemany(
            f"INSERT INTO {table}(task_type, model_name, {column}, n) VALUES (?, ?, ?, ?) "
            f"ON CONFLICT(task_type, model_name, {column}) DO UPDATE SET n = n + excluded.n", changed)
        conn.executemany(f"DELETE FROM {table} WHERE task_type = ? AND model_name = ? AND {column} = ? AND n <= 0",
                         [k[:3] for k in changed if k[3] < 0])


# ----------------------------------------------------------------------------- refresh

_TABLES = ("ledger_run", "ledger_entry", "ledger_failure", "ledger_partner", "ledger_state")


def _state(store: Store) -> dict[str, str]:
    return {r["key"]: r["value"] for r in store.query("SELECT key, value FROM ledger_state")}


_REFRESH_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class _Superseded(Exception):
    """Another refresh started a rebuild after this one began: stop and leave the ledger to it."""


def _check_generation(conn: Connection, generation: str) -> None:
    row = conn.execute("SELECT value FROM ledger_state WHERE key = 'generation'").fetchone()
    if (row[0] if row else None) != generation:
        raise _Superseded


def refresh_ledger(store: Store, progress: Progress | None = None, *, rebuild: bool = False,
                   config_path: str | Path | None = None, command: str = "ledger refresh") -> dict[str, Any]:
    """Bring the ledger up to date with the evidence and scores; incremental unless ``rebuild``.

    Only runs with new evidence rows or a changed score / membership are recomputed, so the cost is
    in proportion to what changed. The first refresh, ``rebuild=True``, or a changed aggregation
    setting (``[ledger]`` of models.toml) rebuilds from scratch. A refresh that changes anything
    writes a receipt (stage ``ledger``). Refreshes of one store are serialised in this process; across
    processes, a rebuild bumps a generation token and an older refresh stops at its next batch.
    """
    with _LOCKS_GUARD:
        lock = _REFRESH_LOCKS.setdefault(str(store.path.resolve()), threading.Lock())
    with lock:
        started = time.perf_counter()
        try:
            result = _refresh(store, progress, rebuild, load_model_config(config_path), command)
        except _Superseded:
            result = {"mode": "superseded", "runs_refreshed": 0, "receipt_id": None}
        result["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return result


def _refresh(store: Store, progress: Progress | None, rebuild: bool, config: ModelConfig,
             command: str) -> dict[str, Any]:
    state = _state(store)
    full = rebuild or state.get("fingerprint") != config.fingerprint or "evidence_hwm" not in state
    hwm = 0 if full else int(state["evidence_hwm"])
    max_id = store.query_one("SELECT coalesce(max(id), 0) AS n FROM evidence")["n"]
    max_seq = store.query_one("SELECT coalesce(max(seq), 0) AS n FROM ledger_dirty")["n"]
    result: dict[str, Any] = {"mode": "full" if full else "incremental", "runs_refreshed": 0,
                              "new_evidence_rows": max_id - hwm, "changed_runs": 0, "evidence_rows_read": 0,
                              "entries_touched": 0, "evidence_hwm": max_id, "receipt_id": None}
    if not full and max_id == hwm and not store.query_one("SELECT 1 AS x FROM ledger_dirty LIMIT 1"):
        return result
    receipt = ReceiptBuilder("ledger", command)
    generation = state.get("generation", "")
    if full:
        generation = uuid.uuid4().hex
        with store.write() as db:  # the high-water mark goes with the rest: a crash mid-rebuild forces a rebuild
            for table in _TABLES:
                db.conn.execute(f"DELETE FROM {table}")
            db.conn.execute("INSERT INTO ledger_state(key, value) VALUES ('generation', ?)", (generation,))
        keys = [r["run_key"] for r in store.query("SELECT run_key FROM runs ORDER BY run_key")]
        dirty_keys: set[str] = set()
    else:
        dirty_keys = {r["run_key"] for r in store.query(
            "SELECT DISTINCT run_key FROM ledger_dirty WHERE seq <= ?", (max_seq,))}
        keys = sorted(dirty_keys | {r["run_key"] for r in store.query(
            "SELECT DISTINCT run_key FROM evidence WHERE id > ? AND id <= ?", (hwm, max_id))})
    rows_read = written = 0
    touched: set[Key] = set()
    delta = _Delta()  # a rebuild sums one delta over all batches and applies it at the end
    for start in range(0, len(keys), BATCH_RUNS):
        with store.write() as db:
            _check_generation(db.conn, generation)
            if not full:
                delta = _Delta()
            n_rows, n_contrib = _process_batch(db.conn, keys[start:start + BATCH_RUNS], config.judge_roles,
                                               delta, full)
            if not full:
                _apply(db.conn, delta)
                touched.update(delta.entries)
        rows_read += n_rows
        written += n_contrib
        if progress:
            progress(min(start + BATCH_RUNS, len(keys)), len(keys), "ledger runs")
    with store.write() as db:
        _check_generation(db.conn, generation)
        if full:
            _apply(db.conn, delta)
            touched.update(delta.entries)
        db.conn.execute("DELETE FROM ledger_dirty WHERE seq <= ?", (max_seq,))
        db.conn.executemany(
            "INSERT INTO ledger_state(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [("evidence_hwm", str(max_id)), ("fingerprint", config.fingerprint), ("config", config.path)])
    entries_total = store.query_one("SELECT count(*) AS n FROM ledger_entry")["n"]
    try:  # every touched entry must still make a valid ModelLedgerEntry
        _entries_where(store, config, sorted(touched))
    except ValidationError as exc:
        receipt.errors.append(f"ledger entry failed its schema: {exc.errors()[0]}")
    receipt.count_in, receipt.count_out = rows_read, written
    receipt.count("runs_refreshed", len(keys))
    receipt.count("entries_touched", len(touched))
    result.update({"runs_refreshed": len(keys), "changed_runs": len(dirty_keys), "evidence_rows_read": rows_read,
                   "entries_touched": len(touched), "entries_total": entries_total})
    receipt.details.update({**result, "previous_hwm": hwm, "config": config.path})
    result["receipt_id"] = receipt.finish(store, validation_pass=True).receipt_id
    return result


# ----------------------------------------------------------------------------- reading the ledger

_ROLE_ORDER = {"primary": 0, "escalation": 1, "fallback": 2}


def _entry(store: Store, row: dict[str, Any], config: ModelConfig) -> ModelLedgerEntry:
    key = (row["task_type"], row["model_name"])
    failures = store.query("SELECT reason, n FROM ledger_failure WHERE task_type = ? AND model_name = ? AND n > 0 "
                           "ORDER BY n DESC, reason LIMIT ?", (*key, TOP_FAILURE_MODES))
    partner = store.query_one("SELECT partner FROM ledger_partner WHERE task_type = ? AND model_name = ? AND n > 0 "
                              "ORDER BY n DESC, partner LIMIT 1", key)
    roles = orjson.loads(row["roles"])
    providers = orjson.loads(row["providers"])
    info = config.lookup(row["model_name"])
    n, ok = row["sample_count"], row["success_count"]
    hist = {int(b): c for b, c in orjson.loads(row["hist"]).items()}
    return ModelLedgerEntry(
        model_name=row["model_name"],
        model_provider=info.provider or (max(sorted(providers), key=lambda p: providers[p]) if providers else None),
        task_type=row["task_type"],
        sample_count=n,
        success_count=ok,
        success_rate=round(ok / n, 6) if n else None,
        success_lower_bound=round(wilson_lower_bound(ok, n), 6) if n else None,
        failure_modes=[f"{f['reason']} ({f['n']} runs)" for f in failures],
        best_partner_model=partner["partner"] if partner else None,
        escalation_role=min(roles, key=lambda r: (-roles[r], _ROLE_ORDER.get(r, 9), r)) if roles else "unknown",
        cost_mean=round(row["cost_nano"] / row["cost_runs"] / 1e9, 9) if row["cost_runs"] else None,
        cost_total=round(row["cost_nano"] / 1e9, 9) if row["cost_runs"] else None,
        latency_p50=hist_percentile(hist, 50),
        latency_p95=hist_percentile(hist, 95),
        context_window=info.context_window,
        last_updated=datetime.fromtimestamp(row["updated_epoch"] or 0.0, UTC),
    )


def _rank(e: ModelLedgerEntry) -> tuple[Any, ...]:
    """Bound, then rate, then samples (descending); then cheaper, faster, and by name."""
    return (e.success_lower_bound is None, -(e.success_lower_bound or 0.0), -(e.success_rate or 0.0),
            -e.sample_count, e.cost_mean is None, e.cost_mean or 0.0, e.latency_p50 is None,
            e.latency_p50 or 0.0, e.task_type, e.model_name)


def _entries_where(store: Store, config: ModelConfig, keys: list[Key] | None = None,
                   task_type: str | None = None) -> list[ModelLedgerEntry]:
    if keys is not None:
        rows = [r for k in keys for r in store.query(
            "SELECT * FROM ledger_entry WHERE task_type = ? AND model_name = ?", k)]
    elif task_type is not None:
        rows = store.query("SELECT * FROM ledger_entry WHERE task_type = ?", (task_type,))
    else:
        rows = store.query("SELECT * FROM ledger_entry")
    return [_entry(store, r, config) for r in rows]


def ledger_entries(store: Store, task_type: str | None = None, model: str | None = None, *, refresh: bool = True,
                   config_path: str | Path | None = None) -> list[ModelLedgerEntry]:
    """One entry per task_type x model, best first (by the 95% Wilson lower bound of success).

    ``model`` is an exact name or a glob (``qwen*``). ``refresh`` first brings the ledger up to date
    (cheap when nothing changed; pass False for a read that must not write).
    """
    if refresh:
        refresh_ledger(store, config_path=config_path)
    config = load_model_config(config_path)
    entries = _entries_where(store, config, task_type=task_type)
    if model is not None:
        if any(ch in model for ch in "*?["):
            entries = [e for e in entries if fnmatch.fnmatchcase(e.model_name.lower(), model.lower())]
        else:
            entries = [e for e in entries if e.model_name == model]
    return sorted(entries, key=_rank)


def ledger_task_types(store: Store) -> list[str]:
    """Task types the ledger has entries for, sorted."""
    return [r["task_type"] for r in store.query("SELECT DISTINCT task_type FROM ledger_entry ORDER BY task_type")]


# ----------------------------------------------------------------------------- recommendation


class Recommendation(BaseModel):
    """Which model to route a task type to, and why."""

    model_name: str
    task_type: str
    reason: str
    entry: ModelLedgerEntry
    runner_up: ModelLedgerEntry | None = None
    considered: int = Field(ge=1, description="Models with scored runs that met the constraints.")
    excluded: list[str] = Field(default_factory=list, description="Models left out, each with why.")


def _money(x: float | None) -> str:
    return "unknown" if x is None else f"${x:.5f}"


def _ms(x: float | None) -> str:
    return "unknown" if x is None else f"{x:.0f} ms"


def _rate(e: ModelLedgerEntry) -> str:
    return f"bound {e.success_lower_bound:.3f} ({e.success_count}/{e.sample_count} accepted = {e.success_rate:.1%})"


def _compare(a: float | None, b: float | None, lower: str, higher: str) -> str:
    if a is None or b is None or b == 0:
        return ""
    if a == b:
        return " (equal)"
    ratio = a / b
    return f" ({1 / ratio:.1f}x {lower})" if ratio < 1 else f" ({ratio:.1f}x {higher})"


def recommend(store: Store, task_type: str, max_cost: float | None = None, max_latency_ms: float | None = None,
              *, refresh: bool = True, config_path: str | Path | None = None) -> Recommendation:
    """The model for ``task_type`` with the highest 95% Wilson lower bound of success among those meeting
    ``max_cost`` (mean cost per run, USD) and ``max_latency_ms`` (p95 latency); unknown values do not
    meet a constraint. Ties fall to the higher rate, more samples, lower cost, lower p50, then name.
    """
    for name, value in (("max_cost", max_cost), ("max_latency_ms", max_latency_ms)):
        if value is not None and (not isinstance(value, int | float) or value < 0):
            raise InvalidInputError(f"{name} must be a non-negative number, got {value!r}")
    entries = ledger_entries(store, task_type=task_type, refresh=refresh, config_path=config_path)
    if not entries:
        known = ledger_task_types(store)
        listing = ", ".join(known) if known else "none yet (collect and score evidence first)"
        raise NotFoundError(f"no ledger data for task type {task_type!r}; task types with data: {listing}")
    candidates: list[ModelLedgerEntry] = []
    excluded: list[str] = []
    for e in entries:
        if not e.sample_count:
            excluded.append(f"{e.model_name}: no scored (decisive) runs yet")
        elif max_cost is not None and (e.cost_mean is None or e.cost_mean > max_cost):
            excluded.append(f"{e.model_name}: mean cost {_money(e.cost_mean)} per run, over max_cost {_money(max_cost)}"
                            if e.cost_mean is not None else f"{e.model_name}: cost unknown (max_cost set)")
        elif max_latency_ms is not None and (e.latency_p95 is None or e.latency_p95 > max_latency_ms):
            excluded.append(f"{e.model_name}: p95 latency {_ms(e.latency_p95)}, over max_latency_ms "
                            f"{_ms(max_latency_ms)}" if e.latency_p95 is not None
                            else f"{e.model_name}: latency unknown (max_latency_ms set)")
        else:
            candidates.append(e)
    if not candidates:
        raise NotFoundError(f"no model for task type {task_type!r} meets the constraints: {'; '.join(excluded)}; "
                            "relax max_cost / max_latency_ms or score more runs")
    best = candidates[0]
    runner = candidates[1] if len(candidates) > 1 else None
    reason = (f"{best.model_name} has the highest 95% Wilson lower bound of success for {task_type}: "
              f"{_rate(best)}.")
    if runner is None:
        reason += " It is the only model with scored runs that meets the constraints."
        reason += f" Cost {_money(best.cost_mean)} mean per run; latency p50 {_ms(best.latency_p50)}, " \
                  f"p95 {_ms(best.latency_p95)}."
    else:
        gap = (best.success_lower_bound or 0) - (runner.success_lower_bound or 0)
        reason += (f" Runner-up {runner.model_name}: {_rate(runner)}, {gap:.3f} lower."
                   f" Cost {_money(best.cost_mean)} vs {_money(runner.cost_mean)} mean per run"
                   f"{_compare(best.cost_mean, runner.cost_mean, 'cheaper', 'dearer')};"
                   f" latency p50 {_ms(best.latency_p50)} vs {_ms(runner.latency_p50)}"
                   f"{_compare(best.latency_p50, runner.latency_p50, 'faster', 'slower')},"
                   f" p95 {_ms(best.latency_p95)} vs {_ms(runner.latency_p95)}.")
    constraints = [f"max_cost {_money(max_cost)}" if max_cost is not None else "",
                   f"max_latency_ms {_ms(max_latency_ms)} (p95)" if max_latency_ms is not None else ""]
    if any(constraints):
        reason += f" Constraints: {', '.join(c for c in constraints if c)}."
    if excluded:
        reason += f" Excluded: {'; '.join(excluded)}."
    return Recommendation(model_name=best.model_name, task_type=task_type, reason=reason, entry=best,
                          runner_up=runner, considered=len(candidates), excluded=excluded)
