"""The dashboard in a real browser: Playwright driving Debian's Chromium against a real server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from mcp_distill.collect.live import live_path
from mcp_distill.collect.runs import RunQuery, get_run, query_runs
from mcp_distill.config import Settings
from mcp_distill.search.embed import embedder_from_env
from mcp_distill.search.playbooks import search_playbooks
from mcp_distill.store import open_store

pytest.register_assert_rewrite("dashboard_env")  # it is also the fixtures' plugin (below)
from dashboard_env import HOSTILE, Watched, screenshot  # noqa: E402

pytest_plugins = ("dashboard_env",)  # the example store, the server, the browser

PAGES = {"overview": "/", "runs": "/runs", "run": "/runs/pr:101@52ee1db9d772", "review": "/review",
         "playbooks": "/playbooks?q=audit+a+pull+request+claims", "ledger": "/ledger", "drift": "/drift",
         "datasets": "/datasets"}


def visit(w: Watched, url: str) -> Any:
    response = w.page.goto(url)
    assert response is not None and response.status == 200, f"{url}: {response and response.status}"
    return response


def test_every_page_loads_with_no_console_error_and_no_outside_request(server: str, watched: Watched,
                                                                        tmp_path: Path) -> None:
    for name, path in PAGES.items():
        visit(watched, server + path)
        assert watched.page.locator("h1").count() == 1, name
        assert "That did not work" not in watched.page.content(), name
        screenshot(watched.page, name, tmp_path)
    assert watched.errors == []
    assert watched.outside("http://127.0.0.1:" + server.rsplit(":", 1)[1]) == []
    assert len(watched.requests) >= len(PAGES)


def _rows(w: Watched) -> list[dict[str, str]]:
    return w.page.eval_on_selector_all("#runs tr:not(:first-child)", """rows => rows.map(r => ({
        run: r.cells[0].innerText, category: r.cells[1].innerText, task: r.cells[2].innerText,
        models: r.cells[3].innerText, records: r.cells[5].innerText}))""")


def test_run_filters_sort_and_pages(server: str, watched: Watched, example: Settings) -> None:
    page = watched.page
    visit(watched, server + "/runs")
    page.select_option("select[name=category]", "rejected")
    page.select_option("select[name=model]", "qwen2.5-coder:32b")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    with open_store(example.db_path) as store:
        _, total = query_runs(store, RunQuery(category="rejected", model="qwen2.5-coder:32b"))
        _, everything = query_runs(store, RunQuery())
    assert 0 < total < everything
    rows = _rows(watched)
    assert len(rows) == total and f"{total} run" in page.inner_text("#run-total")
    assert all(r["category"] == "rejected" and "qwen2.5-coder:32b" in r["models"] for r in rows)

    # sorting by records, ascending, keeps the filters
    page.click("#runs th a:text('records')")
    page.click("#runs th a:text('records')")
    counts = [int(r["records"]) for r in _rows(watched)]
    assert counts == sorted(counts) and len(counts) == total and "order=asc" in page.url

    # pages of 10 over every run: the second page holds the next 10, none repeated
    visit(watched, server + "/runs?size=10")
    first = {r["run"] for r in _rows(watched)}
    page.click("a:text('next')")
    second = {r["run"] for r in _rows(watched)}
    assert len(first) == len(second) == 10 and not first & second and "page 2 of" in page.content()

    # a bad filter value is a clear 400 page, not a crash
    response = page.goto(server + "/runs?since=yesterday")
    assert response.status == 400 and "ISO-8601" in page.inner_text(".error")
    assert [e for e in watched.errors if "status of 400" not in e] == []  # the refused filter only


def test_playbook_search_shows_each_leg(server: str, watched: Watched, example: Settings) -> None:
    page = watched.page
    visit(watched, server + "/playbooks")
    page.fill("input[name=q]", "audit a pull request claims")
    page.click("form.filters button[type=submit]")
    page.wait_for_selector("#hits")
    with open_store(example.db_path) as store:
        expected = search_playbooks(store, embedder_from_env(), "audit a pull request claims", k=20)
    titles = page.eval_on_selector_all("#hits tr:not(:first-child) td:nth-child(2) strong", "els => els.map(e => e.innerText)")
    assert titles == [h.playbook.title or h.playbook.problem_pattern for h in expected.hits] and titles
    ranks = page.eval_on_selector_all("#hits tr:not(:first-child)",
                                      "rows => rows.map(r => [r.cells[4].innerText, r.cells[6].innerText])")
    top = expected.hits[0]
    assert ranks[0] == [str(top.keyword_rank or "–"), str(top.vector_rank or "–")]
    strengths = page.eval_on_selector_all("#hits td.strength span", "els => els.map(e => e.innerText)")
    assert strengths == [f"{h.match} {h.strength:.2f}" for h in expected.hits]
    # the keyword mode leaves the vector columns empty (a query whose words the auditor's playbook has,
    # so that the keyword leg alone finds it at the default minimum strength)
    with open_store(example.db_path) as store:
        assert search_playbooks(store, None, "audit the gitea auditor backoff", mode="keyword").hits
    page.fill("input[name=q]", "audit the gitea auditor backoff")
    page.select_option("select[name=mode]", "keyword")
    page.click("form.filters button[type=submit]")
    page.wait_for_selector("#hits")
    vec = page.eval_on_selector_all("#hits tr:not(:first-child)", "rows => rows.map(r => r.cells[6].innerText)")
    assert vec and set(vec) == {"–"}


def _override_lines(settings: Settings) -> list[dict[str, Any]]:
    with open_store(settings.db_path) as store:
        path = live_path(store)
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if b"human_override" in line]


def test_reviewer_resolves_a_queued_run(server: str, watched: Watched, example: Settings) -> None:
    page = watched.page
    with open_store(example.db_path) as store:
        queued, _ = query_runs(store, RunQuery(category="needs_human_review", sort="time", descending=False, limit=200))
    # a lone record (no run_id, file or PR) cannot take an override: record_override refuses it
    at = next(i for i, r in enumerate(queued, 1) if r["join_method"] != "record")
    visit(watched, server + f"/review?at={at}")
    total = int(re.search(r"(\d+) runs? need", page.inner_text("h1")).group(1))
    run_key = page.get_attribute("input[name=run_key]", "value")
    with open_store(example.db_path) as store:
        assert get_run(store, run_key)["score"]["category"] == "needs_human_review"
    before = _override_lines(example)

    # no note: refused, nothing recorded, still queued
    page.click("button.reject")
    assert "write a note" in page.inner_text("#error")
    assert _override_lines(example) == before

    page.fill("textarea[name=note]", "checked the diff by hand: the claims hold")
    page.click("button.accept")
    page.wait_for_selector("#flash")
    assert "accepted" in page.inner_text("#flash") and f"{total - 1} run" in page.inner_text("h1")
    assert page.get_attribute("input[name=run_key]", "value") != run_key

    # recorded exactly as record_override records it: one line in the store's live log, then rescored
    after = _override_lines(example)
    assert len(after) == len(before) + 1
    line = after[-1]
    assert line["stream"] == "human_overrides" and line["human_override"]["category"] == "accepted"
    assert line["human_override"]["reviewer"] == "tester"
    assert line["human_override"]["reason"] == "checked the diff by hand: the claims hold"
    with open_store(example.db_path) as store:
        view = get_run(store, run_key)
        assert view["score"]["category"] == "accepted"
        assert any("override" in r for r in view["score"]["reasons"])
        override = [r for r in view["records"] if r["stream"] == "human_overrides"][-1]
        assert override["provenance"]["source_file"] == str(live_path(store))

    # the run's page shows the new category and the decision in its history
    page.click("#flash a")
    assert "accepted" in page.inner_text("h2:has-text('Score')")
    history = page.inner_text("#history")
    assert "tester" in history and "checked the diff by hand" in history
    assert [e for e in watched.errors if "status of 400" not in e] == []  # the refused empty note only


def test_a_post_without_the_csrf_token_is_refused(server: str, watched: Watched, example: Settings) -> None:
    visit(watched, server + "/review")
    run_key = watched.page.get_attribute("input[name=run_key]", "value")
    before = _override_lines(example)
    response = watched.page.request.post(server + "/review", form={"run_key": run_key, "category": "rejected",
                                                                     "note": "forged", "csrf": "not-the-token"})
    assert response.status == 403 and "CSRF" in response.text()
    assert _override_lines(example) == before


def test_a_log_line_with_html_renders_as_text(server: str, watched: Watched) -> None:
    page = watched.page
    visit(watched, server + "/runs/run:html-run")
    assert HOSTILE in page.inner_text("#timeline")
    assert page.evaluate("window.__xss") is None
    assert page.locator("#timeline script, #timeline b").count() == 0
    # the same line, quarantined (cut short) from a file: its excerpt on the overview is text too
    visit(watched, server + "/")
    assert "<script>window.__xss = 1</script>" in page.inner_text("body")
    assert page.evaluate("window.__xss") is None
    assert watched.errors == []


def test_drift_page_shows_the_diff_of_two_snapshots(server: str, watched: Watched) -> None:
    page = watched.page
    visit(watched, server + "/drift")
    assert page.locator("#snapshots tr").count() == 3
    broken = page.inner_text("#newly-broken")
    assert "parse_claims" in broken and "verified → missing" in broken
    assert "src/parse.py" in page.inner_text("#claims-missing")
