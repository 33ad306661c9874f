"""Model Routing Ledger: Wilson bound, ranking, roles, partners, failure modes, percentiles, cost,
recommendation, incremental refresh == full rebuild, config, errors.

Data goes in the way users put it in: native evidence rows in an ``evidence.jsonl``, collected with
``collect_paths`` and scored with ``score_runs``.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from mcp_distill.collect.collector import collect_paths
from mcp_distill.config import Settings
from mcp_distill.errors import ConfigError, NotFoundError
from mcp_distill.ledger.routing import (
    DEFAULT_MODELS,
    hist_percentile,
    latency_bin,
    ledger_entries,
    load_model_config,
    recommend,
    refresh_ledger,
    wilson_lower_bound,
)
from mcp_distill.score import DEFAULT_RULES, load_rules, score_runs

T0 = datetime(2026, 4, 20, 8, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def call(run: str, model: str, t: float, task: str = "codereview", **extra: Any) -> dict:
    """One model call (no outcome signal of its own)."""
    return {"run_id": run, "task_type": task, "model_name": model, "timestamp": at(t), **extra}


def verdict(run: str, model: str | None, word: str, t: float, task: str = "codereview", **extra: Any) -> dict:
    """An observer verdict about the run, naming the model whose answer it judged."""
    row = {"run_id": run, "task_type": task, "timestamp": at(t),
           "signals": {"verdict": word, "verdict_source": "observer", "confidence": 0.9}, **extra}
    if model:
        row["model_name"] = model
    return row


def load(store, tmp_path: Path, rows: list[dict], rescore: bool = False) -> None:
    """Append rows to tmp_path/evidence.jsonl, collect what is new, score what is unscored."""
    src = tmp_path / "evidence.jsonl"
    with open(src, "ab") as handle:
        for row in rows:
            handle.write(orjson.dumps(row) + b"\n")
    collect_paths(store, Settings(db_path=tmp_path / "distill.db", roots=[tmp_path]), [str(src)])
    score_runs(store, load_rules(), rescore=rescore)


def by_model(store, task_type: str = "codereview") -> dict:
    return {e.model_name: e for e in ledger_entries(store, task_type=task_type)}


def single_runs(prefix: str, model: str, accepted: int, rejected: int, task: str = "codereview", **call_extra: Any):
    rows = []
    for i in range(accepted + rejected):
        run = f"{prefix}-{i}"
        rows.append(call(run, model, i * 100, task=task, **call_extra))
        rows.append(verdict(run, model, "accept" if i < accepted else "reject", i * 100 + 5, task=task))
    return rows


# ----------------------------------------------------------------------------- pure functions


def test_wilson_lower_bound_values():
    assert wilson_lower_bound(0, 0) == 0.0
    assert wilson_lower_bound(0, 10) == 0.0
    # reference values of the Wilson score interval (95%)
    assert wilson_lower_bound(8, 10) == pytest.approx(0.4902, abs=1e-4)
    assert wilson_lower_bound(10, 10) == pytest.approx(0.7225, abs=1e-4)
    assert wilson_lower_bound(5, 10) == pytest.approx(0.2366, abs=1e-4)
    assert wilson_lower_bound(80, 100) == pytest.approx(0.7112, abs=1e-4)
    # the same rate over more samples gets a tighter, higher bound
    assert wilson_lower_bound(3, 3) < wilson_lower_bound(90, 100) < 0.9


def test_histogram_percentile_is_within_one_percent():
    rng = random.Random(7)
    samples = [rng.lognormvariate(8, 0.7) for _ in range(5000)]
    hist: dict[int, int] = {}
    for x in samples:
        hist[latency_bin(x)] = hist.get(latency_bin(x), 0) + 1
    ordered = sorted(samples)
    for p in (50, 95, 99):
        exact = ordered[math.ceil(p / 100 * len(ordered)) - 1]
        assert hist_percentile(hist, p) == pytest.approx(exact, rel=0.01)
    assert hist_percentile({}, 50) is None


# ----------------------------------------------------------------------------- ranking and statistics


def test_small_sample_does_not_outrank_a_large_sample(store, tmp_path):
    load(store, tmp_path, single_runs("lucky", "m-lucky", 3, 0) + single_runs("steady", "m-steady", 90, 10))
    entries = ledger_entries(store, task_type="codereview")
    assert [e.model_name for e in entries] == ["m-steady", "m-lucky"]
    lucky, steady = entries[1], entries[0]
    assert lucky.success_rate == 1.0 and steady.success_rate == pytest.approx(0.9)
    assert (lucky.sample_count, lucky.success_count) == (3, 3)
    assert steady.success_lower_bound == pytest.approx(wilson_lower_bound(90, 100), abs=1e-6)
    rec = recommend(store, "codereview")
    assert rec.model_name == "m-steady" and rec.runner_up and rec.runner_up.model_name == "m-lucky"
    assert "Runner-up m-lucky" in rec.reason and rec.considered == 2


def test_roles_partner_and_failure_modes(store, tmp_path):
    rows = []
    for i in range(4):  # m1 answers first, the loop escalates to m2, whose answer is accepted
        r = f"esc-{i}"
        rows += [call(r, "m1", i * 100), call(r, "m2", i * 100 + 10), verdict(r, "m2", "accept", i * 100 + 20)]
    rows += [call("alt", "m1", 900), verdict("alt", "m3", "accept", 910)]
    for i in range(2):  # m1's call errors out: m4 takes over as a fallback
        r = f"fb-{i}"
        rows += [call(r, "m1", 1000 + i * 100, signals={"error_count": 1}, failure_markers=["call error: 503"]),
                 verdict(r, "m4", "accept", 1010 + i * 100)]
    for i in range(3):
        rows += [call(f"rej-{i}", "m2", 2000 + i * 100), verdict(f"rej-{i}", "m2", "reject", 2005 + i * 100)]
    rows += [verdict("explicit", "m5", "accept", 3000, model_role="fallback")]
    rows += [verdict("late", "m6", "accept", 3100, signals={"verdict": "accept", "verdict_source": "observer",
                                                            "accepted_on_attempt": 2})]
    rows += [verdict("judged", "judge-x", "accept", 3200, model_role="observer")]
    load(store, tmp_path, rows)
    e = by_model(store)
    assert e["m1"].escalation_role == "primary"
    assert e["m2"].escalation_role == "escalation"
    assert e["m3"].escalation_role == "escalation" and e["m4"].escalation_role == "fallback"
    assert e["m5"].escalation_role == "fallback"      # stated on the record
    assert e["m6"].escalation_role == "escalation"    # accepted on attempt 2, earlier attempts unrecorded
    assert "judge-x" not in e                           # judge roles are not actors
    assert e["m1"].best_partner_model == "m2"          # 4 runs rescued by m2, 1 by m3, 2 by m4
    assert (e["m1"].sample_count, e["m1"].success_count) == (7, 0)
    assert e["m1"].failure_modes == ["replaced by a later model (5 runs)", "call error: 503 (2 runs)"]
    assert (e["m2"].sample_count, e["m2"].success_count) == (7, 4)
    assert e["m2"].failure_modes == ["observer verdict 'reject' in evidence -> negative (3 runs)"]
    assert e["m2"].best_partner_model is None


def test_unscored_and_undecided_runs_count_for_latency_not_rate(store, tmp_path):
    rows = single_runs("ok", "m", 2, 0, latency_ms=1000)
    rows += [call("unsure", "m", 500, latency_ms=1000)]  # no outcome signal: needs_human_review
    load(store, tmp_path, rows)
    entry = by_model(store)["m"]
    assert (entry.sample_count, entry.success_count, entry.success_rate) == (2, 2, 1.0)
    assert entry.latency_p50 == pytest.approx(1000, rel=0.01)
    assert store.query_one("SELECT runs FROM ledger_entry WHERE model_name = 'm'")["runs"] == 3


def test_latency_percentiles_close_to_exact(store, tmp_path):
    rng = random.Random(11)
    latencies = [round(rng.lognormvariate(8.5, 0.5), 1) for _ in range(300)]
    rows = []
    for i, ms in enumerate(latencies):
        rows += [call(f"lat-{i}", "m-lat", i * 10, latency_ms=ms), verdict(f"lat-{i}", "m-lat", "accept", i * 10 + 1)]
    load(store, tmp_path, rows)
    entry = by_model(store)["m-lat"]
    ordered = sorted(latencies)
    assert entry.latency_p50 == pytest.approx(ordered[math.ceil(0.50 * 300) - 1], rel=0.01)
    assert entry.latency_p95 == pytest.approx(ordered[math.ceil(0.95 * 300) - 1], rel=0.01)


def test_cost_mean_and_total_per_run(store, tmp_path):
    rows = [call("c1", "m", 0, cost_usd=0.001), call("c1", "m", 5, cost_usd=0.002), verdict("c1", "m", "accept", 9),
            call("c2", "m", 100, cost_usd=0.003), verdict("c2", "m", "accept", 109),
            call("c3", "m", 200), verdict("c3", "m", "accept", 209)]  # no cost stated: not in the mean
    load(store, tmp_path, rows)
    entry = by_model(store)["m"]
    assert entry.cost_total == pytest.approx(0.006)
    assert entry.cost_mean == pytest.approx(0.003)  # (0.001 + 0.002) and 0.003, per run


# ----------------------------------------------------------------------------- recommendation


def test_recommend_with_cost_and_latency_filters(store, tmp_path):
    rows = single_runs("a", "m-best", 50, 0, task="summarize", cost_usd=0.01, latency_ms=5000)
    rows += single_runs("b", "m-cheap", 40, 10, task="summarize", cost_usd=0.001, latency_ms=800)
    rows += single_runs("c", "m-mid", 45, 5, task="summarize", cost_usd=0.005, latency_ms=3000)
    load(store, tmp_path, rows)
    rec = recommend(store, "summarize")
    assert rec.model_name == "m-best" and rec.runner_up.model_name == "m-mid" and rec.considered == 3
    assert "Runner-up m-mid" in rec.reason and "$0.01000 vs $0.00500" in rec.reason and "2.0x dearer" in rec.reason
    rec = recommend(store, "summarize", max_cost=0.006)
    assert rec.model_name == "m-mid" and rec.runner_up.model_name == "m-cheap"
    assert any(x.startswith("m-best: mean cost") for x in rec.excluded) and "max_cost $0.00600" in rec.reason
    rec = recommend(store, "summarize", max_latency_ms=1000)
    assert rec.model_name == "m-cheap" and rec.runner_up is None and rec.considered == 1
    assert "only model" in rec.reason and "m-mid: p95 latency" in rec.reason
    with pytest.raises(NotFoundError, match="meets the constraints"):
        recommend(store, "summarize", max_cost=0.0001)


def test_unknown_task_type_names_the_known_ones(store, tmp_path):
    load(store, tmp_path, single_runs("x", "m", 1, 0, task="codereview") + single_runs("y", "m", 1, 0, task="triage"))
    with pytest.raises(NotFoundError) as info:
        recommend(store, "translate")
    assert "'translate'" in str(info.value) and "codereview, triage" in str(info.value)


# ----------------------------------------------------------------------------- incrementality


def snapshot(store) -> tuple:
    """Every entry plus the full failure and partner tables (entries show only the top of them)."""
    entries = [e.model_dump(mode="json") for e in ledger_entries(store, refresh=False)]
    failures = store.query("SELECT * FROM ledger_failure ORDER BY task_type, model_name, reason")
    partners = store.query("SELECT * FROM ledger_partner ORDER BY task_type, model_name, partner")
    return entries, failures, partners


def mixed_rows(seed: int, runs: int, offset: float) -> list[dict]:
    rng = random.Random(seed)
    models = ["qwen", "gpt", "deepseek", "kimi"]
    rows = []
    for i in range(runs):
        run, t = f"s{seed}-{i}", offset + i * 60
        task = rng.choice(["codereview", "triage"])
        extra = {"task_id": f"issue-{rng.randrange(8)}"} if i % 3 == 0 else {}
        seq = rng.sample(models, rng.randint(1, 3))
        for k, m in enumerate(seq):
            rows.append(call(run, m, t + k * 5, task=task, latency_ms=rng.randint(200, 20000),
                             cost_usd=round(rng.random() / 100, 5), **extra))
        word = rng.choice(["accept", "accept", "reject", "needs_work", None])
        if word:
            rows.append(verdict(run, seq[-1], word, t + 30, task=task, **extra))
    # rows joined by file + time window (no run_id), adopted later by a run_id row of the same file
    rows.append({"file_path": f"src/f{seed}.py", "timestamp": at(offset), "model_name": "qwen", "task_type": "triage",
                 "latency_ms": 700})
    return rows


def test_incremental_refresh_equals_full_rebuild(store, tmp_path):
    load(store, tmp_path, mixed_rows(1, 120, 0))
    first = refresh_ledger(store)
    assert first["mode"] == "full"
    assert refresh_ledger(store)["runs_refreshed"] == 0  # nothing changed: nothing recomputed
    score_runs(store, load_rules(), rescore=True)  # same rules, same scores: still nothing to recompute
    assert refresh_ledger(store)["runs_refreshed"] == 0
    # append: new runs, records joining existing runs, a task_id group growing, an adopted file-window run
    more = mixed_rows(2, 30, 100_000)
    more += [call("s1-5", "kimi", 400, latency_ms=900), verdict("s1-5", "kimi", "accept", 410)]
    more += [{**verdict("adopter", "gpt", "accept", 20, task="triage"), "file_path": "src/f1.py"}]
    load(store, tmp_path, more)
    inc = refresh_ledger(store)
    assert inc["mode"] == "incremental" and inc["runs_refreshed"] < 40
    incremental = snapshot(store)
    refresh_ledger(store, rebuild=True)
    assert snapshot(store) == incremental
    # re-score one run through a human override: it is subtracted and re-added
    load(store, tmp_path, [{"run_id": "s1-7", "timestamp": at(9_999),
                            "human_override": {"category": "rejected", "reason": "broke prod", "reviewer": "ana"}}])
    inc = refresh_ledger(store)
    assert inc["mode"] == "incremental" and inc["runs_refreshed"] == 1
    incremental = snapshot(store)
    refresh_ledger(store, rebuild=True)
    assert snapshot(store) == incremental
    # re-scoring everything with other rules changes only what the scores change
    rules = tmp_path / "rules.toml"  # needs_work: partial -> negative
    text = DEFAULT_RULES.read_text().replace('"partially_accepted", "needs_work", ', '"partially_accepted", ')
    rules.write_text(text.replace('negative = ["reject", ', 'negative = ["needs_work", "reject", ', 1))
    before = snapshot(store)
    score_runs(store, load_rules(rules), rescore=True)
    refresh_ledger(store)
    incremental = snapshot(store)
    assert incremental != before
    refresh_ledger(store, rebuild=True)
    assert snapshot(store) == incremental


def test_partner_across_runs_of_the_same_task(store, tmp_path):
    rows = [call("first", "m1", 0, task_id="T1"), verdict("first", "m1", "reject", 5, task_id="T1"),
            call("second", "m2", 100, task_id="T1"), verdict("second", "m2", "accept", 105, task_id="T1")]
    load(store, tmp_path, rows)
    assert by_model(store)["m1"].best_partner_model == "m2"
    assert by_model(store)["m1"].escalation_role == "primary" and by_model(store)["m2"].escalation_role == "primary"
    # a run where only one record names the task keeps its in-run escalation pair
    load(store, tmp_path, [call("third", "m3", 200, task_id="T2"), call("third", "m4", 210),
                           verdict("third", "m4", "accept", 215)])
    assert by_model(store)["m3"].best_partner_model == "m4"


# ----------------------------------------------------------------------------- model config


def test_model_config_globs_exact_and_errors(store, tmp_path, monkeypatch):
    cfg = tmp_path / "models.toml"
    cfg.write_text('[ledger]\njudge_roles = ["observer"]\n\n[models."acme-large"]\nprovider = "acme"\n'
                   'context_window = 64000\n\n[models."acme-*"]\nprovider = "acme-cloud"\ncontext_window = 8192\n')
    monkeypatch.setenv("MCP_DISTILL_MODELS", str(cfg))
    load(store, tmp_path, single_runs("a", "acme-large", 1, 0) + single_runs("b", "ACME-small", 1, 0)
         + single_runs("c", "other", 1, 0))
    e = by_model(store)
    assert (e["acme-large"].model_provider, e["acme-large"].context_window) == ("acme", 64000)
    assert (e["ACME-small"].model_provider, e["ACME-small"].context_window) == ("acme-cloud", 8192)
    assert (e["other"].model_provider, e["other"].context_window) == (None, None)
    assert load_model_config(None).lookup("qwen2.5-coder:32b").provider is None  # not in the user's file
    # a changed aggregation setting rebuilds on the next refresh
    cfg.write_text(cfg.read_text().replace('["observer"]', '["observer", "verifier"]'))
    assert refresh_ledger(store)["mode"] == "full"
    cfg.write_text('[models."x"]\ncontext_window = "big"\n')
    with pytest.raises(ConfigError, match="context_window"):
        load_model_config(cfg)
    cfg.write_text('[modles."x"]\n')
    with pytest.raises(ConfigError, match="unknown section"):
        load_model_config(cfg)


def test_shipped_model_config_knows_the_seed_models():
    cfg = load_model_config(DEFAULT_MODELS)
    assert cfg.lookup("qwen2.5-coder:32b").context_window == 32768
    assert cfg.lookup("claude-sonnet-4-5-20250929").provider == "anthropic"
    assert "observer" in cfg.judge_roles


def test_concurrent_refreshes_and_a_superseded_rebuild(store, tmp_path, monkeypatch):
    import threading

    from mcp_distill.ledger import aggregate as ledger_mod  # _refresh looks _process_batch up there

    load(store, tmp_path, mixed_rows(3, 60, 0))
    results: list[dict] = []
    threads = [threading.Thread(target=lambda: results.append(refresh_ledger(store))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["mode"] for r in results) == ["full", "incremental", "incremental"]
    settled = snapshot(store)
    original = ledger_mod._process_batch

    def rebuilt_elsewhere(conn, *args, **kwargs):  # another process starts a rebuild mid-way
        conn.execute("UPDATE ledger_state SET value = 'other' WHERE key = 'generation'")
        return original(conn, *args, **kwargs)

    monkeypatch.setattr(ledger_mod, "_process_batch", rebuilt_elsewhere)
    load(store, tmp_path, mixed_rows(4, 5, 50_000))
    assert refresh_ledger(store)["mode"] == "superseded"
    monkeypatch.setattr(ledger_mod, "_process_batch", original)
    assert refresh_ledger(store)["mode"] == "incremental"
    incremental = snapshot(store)
    assert incremental != settled
    refresh_ledger(store, rebuild=True)
    assert snapshot(store) == incremental


def test_change_tracking_starts_with_the_first_build(store, tmp_path):
    load(store, tmp_path, single_runs("a", "m", 3, 1))
    assert store.query_one("SELECT count(*) AS n FROM ledger_dirty")["n"] == 0  # ledger never used: no cost
    assert refresh_ledger(store)["mode"] == "full"
    load(store, tmp_path, [{"run_id": "a-0", "timestamp": at(5_000),
                            "human_override": {"category": "rejected", "reason": "regression"}}])
    assert store.query_one("SELECT count(*) AS n FROM ledger_dirty")["n"] > 0
    assert by_model(store)["m"].success_count == 2 and store.query_one(
        "SELECT count(*) AS n FROM ledger_dirty")["n"] == 0
