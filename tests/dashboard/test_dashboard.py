"""The dashboard without a browser: its security rules, its mount under `serve --http`, and the core
queries and decision function it is built on (real store, real collector and scorer)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import EXAMPLES, PROJECT
from starlette.testclient import TestClient

from mcp_distill.collect.collector import collect_paths
from mcp_distill.collect.live import decide_run, live_path
from mcp_distill.collect.runs import RunQuery, get_run, query_runs, run_filter_values
from mcp_distill.config import TOKEN_ENV, Settings
from mcp_distill.dashboard import dashboard_app
from mcp_distill.errors import ConfigError, InvalidInputError
from mcp_distill.score import load_rules, score_runs
from mcp_distill.server.http import http_app
from mcp_distill.store import Store, open_store


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("dash-core")
    settings = Settings(db_path=root / "distill.db", roots=[root, PROJECT])
    with open_store(settings.db_path) as store:
        collect_paths(store, settings, [str(EXAMPLES)])
        score_runs(store, load_rules(None))
    return settings


@pytest.fixture
def settings(tmp_path: Path, store: Store) -> Settings:
    return Settings(db_path=store.path, roots=[tmp_path])


def test_binding_off_loopback_needs_a_token(settings: Settings) -> None:
    with pytest.raises(ConfigError, match=TOKEN_ENV):
        dashboard_app(settings, host="0.0.0.0")


def test_a_token_by_header_or_by_a_cookie_set_once(settings: Settings) -> None:
    app = dashboard_app(settings, host="0.0.0.0", token="s3cret-token")
    with TestClient(app, base_url="http://127.0.0.1:8780") as client:
        refused = client.get("/")
        assert refused.status_code == 401 and "?token=" in refused.text
        assert client.get("/?token=wrong").status_code == 401
        assert client.get("/", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        swap = client.get("/runs?token=s3cret-token", follow_redirects=False)
        assert swap.status_code == 303 and "token" not in swap.headers["location"]
        assert "httponly" in swap.headers["set-cookie"].lower() and "samesite=strict" in swap.headers["set-cookie"].lower()
        page = client.get("/")  # the cookie now does
        assert page.status_code == 200
        label = "token:" + hashlib.sha256(b"s3cret-token").hexdigest()[:8]
        assert label in page.text and "s3cret-token" not in page.text


def test_foreign_host_headers_are_refused_and_headers_forbid_scripts(settings: Settings) -> None:
    with TestClient(dashboard_app(settings), base_url="http://127.0.0.1:8780") as client:
        assert client.get("/", headers={"Host": "attacker.example:8780"}).status_code == 403
        ok = client.get("/")
        assert ok.status_code == 200
        assert "default-src 'none'" in ok.headers["content-security-policy"]
        assert ok.headers["x-frame-options"] == "DENY"


def test_serve_http_mounts_the_dashboard_under_the_same_token(settings: Settings, monkeypatch) -> None:
    with TestClient(http_app(settings), base_url="http://127.0.0.1:8765") as client:
        page = client.get("/dashboard/runs")
        assert page.status_code == 200 and 'href="/dashboard/review"' in page.text
    monkeypatch.setenv(TOKEN_ENV, "mounted-secret")
    with TestClient(http_app(settings, host="0.0.0.0"), base_url="http://127.0.0.1:8765") as client:
        assert client.get("/dashboard/").status_code == 401
        assert client.post("/mcp", json={}).status_code == 401
        assert client.get("/dashboard/?token=mounted-secret").status_code == 200


def test_query_runs_filters_sorts_and_pages(scored: Settings) -> None:
    with open_store(scored.db_path) as store:
        everything, total = query_runs(store, RunQuery(limit=200))
        assert total == len(everything) == 100
        values = run_filter_values(store)
        assert "pr_audit" in values["task_type"] and "audits" in values["stream"] and values["model"]
        model = values["model"][0]
        rows, n = query_runs(store, RunQuery(model=model, category="rejected", limit=200))
        assert n == len(rows) and all(model in r["models"] and r["category"] == "rejected" for r in rows)
        expected = {r["run_key"] for r in everything if model in r["models"] and r["category"] == "rejected"}
        assert {r["run_key"] for r in rows} == expected
        by_stream, n_stream = query_runs(store, RunQuery(stream="audits", limit=200))
        assert n_stream == sum("audits" in r["streams"] for r in everything) == len(by_stream)
        first, _ = query_runs(store, RunQuery(sort="records", descending=False, limit=10))
        second, _ = query_runs(store, RunQuery(sort="records", descending=False, limit=10, offset=10))
        counts = [r["record_count"] for r in first + second]
        assert counts == sorted(counts) and not {r["run_key"] for r in first} & {r["run_key"] for r in second}
        times = [r["first_epoch"] for r in everything if r["first_epoch"] is not None]
        middle = sorted(times)[len(times) // 2]
        _, later = query_runs(store, RunQuery(since=middle))
        assert later == sum(t >= middle for t in times)
        with pytest.raises(InvalidInputError, match="sort"):
            query_runs(store, RunQuery(sort="first_epoch; DROP TABLE runs"))


def test_decide_run_records_like_record_override_and_rescores(scored: Settings) -> None:
    with open_store(scored.db_path) as store:
        queued, _ = query_runs(store, RunQuery(category="needs_human_review", limit=200))
        key = next(r["run_key"] for r in queued if r["join_method"] != "record")
        with pytest.raises(InvalidInputError, match="note"):
            decide_run(store, load_rules(None), key, "accepted", "  ", "ann")
        with pytest.raises(InvalidInputError, match="category"):
            decide_run(store, load_rules(None), key, "maybe", "why", "ann")
        assert not live_path(store).exists()  # refused decisions wrote nothing
        out = decide_run(store, load_rules(None), key, "rejected", "the patch breaks the build", "ann")
        assert out["category"] == "rejected" and out["run_key"] == key
        view = get_run(store, key)
        assert view["score"]["category"] == "rejected"
        override = next(r for r in view["records"] if r["stream"] == "human_overrides")
        assert override["human_override"]["reviewer"] == "ann"
        assert override["provenance"]["source_file"] == str(live_path(store))
