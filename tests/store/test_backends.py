"""The same pipeline on both backends: collect and score give the same records, runs and categories on
SQLite and on PostgreSQL (a real server); live evidence and re-collects behave alike; several
processes collecting overlapping files and pushing live evidence into one PostgreSQL store at once
lose nothing and store nothing twice.
"""

from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path

import orjson
from conftest import EXAMPLES, PROJECT

from mcp_distill.collect.collector import collect_paths
from mcp_distill.collect.live import live_path, record_evidence
from mcp_distill.collect.runs import get_run
from mcp_distill.config import Settings
from mcp_distill.score import load_rules, score_runs
from mcp_distill.stats import store_stats
from mcp_distill.store import open_store

#: Per-store facts that differ by nature (where it is, when it ran).
PLACE_AND_TIME = ("db_path", "last_receipts")
#: When a playbook was written: the clock's, not the knowledge's.
WHEN = {"created_at", "updated_at"}


def _pipeline(location: str | Path) -> dict:
    with open_store(location) as store:
        collect_paths(store, Settings(db_path=location, roots=[PROJECT]), [str(EXAMPLES)])
        score_runs(store, load_rules())
        stats = {k: v for k, v in store_stats(store).items() if k not in PLACE_AND_TIME}
        evidence = store.query("SELECT record_id, stream, run_key, run_id, task_id, task_type, model_name, file_path, "
                               "pr_number, head_sha, ts, ts_epoch, source_file, line_offset, sig_hash, data "
                               "FROM evidence ORDER BY record_id")
        runs = store.query("SELECT run_key, run_id, join_method, file_path, pr_number, head_sha, task_type, "
                           "first_epoch, last_epoch, record_count FROM runs ORDER BY run_key")
        scores = store.query("SELECT run_key, category, reasons, votes, evidence_count FROM scores ORDER BY run_key")
        quarantine = store.query("SELECT source_file, line_offset, line_sha256, stream, reason, excerpt "
                                 "FROM quarantine ORDER BY source_file, line_offset")
        first_run = get_run(store, runs[0]["run_key"])
        first_run["score"].pop("scored_at")  # when, not what
    return {"stats": stats, "evidence": evidence, "runs": runs, "scores": scores, "quarantine": quarantine,
            "run": {k: v for k, v in first_run.items() if k != "records"}}


def test_collect_and_score_give_the_same_records_runs_and_categories_on_both(tmp_path, pg_url):
    on_sqlite = _pipeline(tmp_path / "distill.db")
    on_postgres = _pipeline(pg_url)
    assert on_sqlite["stats"]["evidence"] > 100 and len(on_sqlite["stats"]["by_category"]) >= 3
    for part in ("stats", "evidence", "runs", "scores", "quarantine", "run"):
        assert on_postgres[part] == on_sqlite[part], part


def test_collecting_again_and_pushing_live_evidence_on_postgresql(pg_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the machine's live log lives under ./store/
    with open_store(pg_url) as store:
        settings = Settings(db_path=pg_url, roots=[PROJECT])
        first = collect_paths(store, settings, [str(EXAMPLES)])
        again = collect_paths(store, settings, [str(EXAMPLES)])
        assert first.total("inserted") > 0 and again.total("inserted") == 0
        pushed = record_evidence(store, {"stream": "scrum_reviews", "run_id": "team-run-1", "text": "approve"})
        assert pushed["inserted"] == 1 and pushed["run_key"] == "run:team-run-1"
        same = record_evidence(store, {"stream": "scrum_reviews", "run_id": "team-run-1", "text": "approve",
                                       "timestamp": get_run(store, "run:team-run-1")["records"][0]["timestamp"]})
        assert same["run_key"] == "run:team-run-1"
        log = live_path(store)
        assert log.is_relative_to(tmp_path / "store") and log.is_file()


WRITERS, READERS, LIVE_PUSHES = 4, 2, 5


def _writer(url: str, files: list[str], home: str, index: int, errors) -> None:
    import os

    try:
        os.chdir(home)  # its own machine: its own live log
        with open_store(url) as store:
            collect_paths(store, Settings(db_path=url, roots=[Path(files[0]).parent.parent]), files)
            for n in range(LIVE_PUSHES):
                record_evidence(store, {"stream": "scrum_reviews", "run_id": f"live-{index}-{n}", "text": "approve"})
    except BaseException as exc:
        errors.put(f"writer {index}: {exc!r}")


def _reader(url: str, stop, errors) -> None:
    try:
        with open_store(url) as store:
            while not stop.is_set():
                stats = store_stats(store)
                assert stats["evidence"] >= 0
                row = store.query_one("SELECT run_key FROM runs ORDER BY run_key LIMIT 1")
                if row:
                    get_run(store, row["run_key"])
    except BaseException as exc:
        errors.put(f"reader: {exc!r}")


def test_concurrent_collectors_and_readers_lose_nothing_and_store_nothing_twice(pg_url, tmp_path):
    """Each writer process collects its own copy of one stream plus two files every writer collects
    (distinct and overlapping files), then pushes live evidence; readers query all the while."""
    data = tmp_path / "data"
    shared = [data / "shared" / name for name in ("outcomes.jsonl", "audits.jsonl")]
    for path in shared:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(EXAMPLES / path.name, path)
    plans = []
    for i in range(WRITERS):
        own = data / f"own{i}" / "model_trust.jsonl"
        own.parent.mkdir(parents=True)
        shutil.copy(EXAMPLES / "model_trust.jsonl", own)
        (tmp_path / f"home{i}").mkdir()
        plans.append(([str(own), *map(str, shared)], str(tmp_path / f"home{i}")))
    ctx = multiprocessing.get_context("spawn")
    errors, stop = ctx.Queue(), ctx.Event()
    open_store(pg_url).close()  # migrated once, as a team's server is before its loops start
    readers = [ctx.Process(target=_reader, args=(pg_url, stop, errors)) for _ in range(READERS)]
    writers = [ctx.Process(target=_writer, args=(pg_url, files, home, i, errors)) for i, (files, home) in enumerate(plans)]
    for p in readers + writers:
        p.start()
    for p in writers:
        p.join(300)
    stop.set()
    for p in readers:
        p.join(60)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == [] and all(p.exitcode == 0 for p in readers + writers)

    # what one sequential collect of the same files stores, on SQLite
    expected_path = tmp_path / "expected.db"
    with open_store(expected_path) as expected:
        all_files = sorted({f for files, _ in plans for f in files})
        collect_paths(expected, Settings(db_path=expected_path, roots=[data]), all_files)
        file_records = expected.query_one("SELECT count(*) AS n FROM evidence")["n"]
    with open_store(pg_url) as store:
        total = store.query_one("SELECT count(*) AS n, count(DISTINCT record_id) AS ids FROM evidence")
        from_files = store.query_one("SELECT count(*) AS n FROM evidence WHERE source_file NOT LIKE '%.live/%'")["n"]
        live_runs = store.query("SELECT run_key FROM runs WHERE run_key LIKE 'run:live-%'")
    assert from_files == file_records  # nothing lost, nothing twice
    assert total["n"] == total["ids"] == file_records + WRITERS * LIVE_PUSHES
    assert len(live_runs) == WRITERS * LIVE_PUSHES


def _downstream(location: str | Path, tmp: Path, project: tuple[Path, Path]) -> dict:
    """Playbooks, every export kind, the ledger and a drift check after `_pipeline`'s collect + score."""
    from mcp_distill.datasets.build import export_dataset
    from mcp_distill.drift.snapshots import run_drift
    from mcp_distill.ledger.routing import ledger_entries
    from mcp_distill.search.playbooks import extract_playbooks

    repo, prd = project
    with open_store(location) as store:
        extract_playbooks(store)
        playbooks = [{**row, "data": {k: v for k, v in orjson.loads(row["data"]).items() if k not in WHEN}}
                     for row in store.query("SELECT playbook_id, task_type, pattern_key, data FROM playbooks "
                                            "ORDER BY playbook_id")]
        export = export_dataset(store, "all", tmp)
        files = {rel: (tmp / rel).read_bytes() for rel in export["files"]}
        ledger = [e.model_dump(mode="json") for e in ledger_entries(store)]
        drift = run_drift(store, Settings(db_path=location, roots=[repo.parent]), prd, repo).snapshot
        claims = [(r.claim.claim_key, r.status, r.fake) for r in drift.claims]
    return {"playbooks": playbooks, "files": files, "ledger": ledger, "drift": (drift.totals, claims)}


def test_playbooks_exports_ledger_and_drift_are_the_same_on_both(tmp_path, pg_url):
    from test_drift import CODE, PRD, make_repo

    repo = tmp_path / "repo"
    sha = make_repo(repo, CODE)
    prd = tmp_path / "PRD.md"
    prd.write_text(PRD.replace("{sha}", sha))
    results = {}
    for name, location in (("sqlite", tmp_path / "distill.db"), ("postgresql", pg_url)):
        _pipeline(location)
        (tmp_path / name).mkdir()
        results[name] = _downstream(location, tmp_path / name, (repo, prd))
    on_sqlite, on_postgres = results["sqlite"], results["postgresql"]
    assert len(on_sqlite["playbooks"]) > 5 and len(on_sqlite["files"]) >= 3 and on_sqlite["ledger"]
    assert on_postgres["playbooks"] == on_sqlite["playbooks"]
    assert on_postgres["files"].keys() == on_sqlite["files"].keys()
    for rel, content in on_sqlite["files"].items():
        assert on_postgres["files"][rel] == content, f"{rel} differs between the backends"
    assert on_postgres["ledger"] == on_sqlite["ledger"]
    assert on_postgres["drift"] == on_sqlite["drift"]


def test_search_on_postgresql_finds_explains_and_filters_like_sqlite(tmp_path, pg_url, embedder):
    from mcp_distill.search.backends import vector_leg
    from mcp_distill.search.index import Index
    from mcp_distill.search.playbooks import extract_playbooks, index_playbooks

    query = "retry flaky migration backoff"
    found = {}
    for name, location in (("sqlite", tmp_path / "distill.db"), ("postgresql", pg_url)):
        _pipeline(location)
        with open_store(location) as store:
            extract_playbooks(store)
            index_playbooks(store, embedder)
            index = Index(store, embedder, "playbooks")
            title, task_type = (lambda r: (r["title"], r["task_type"]))(
                store.query_one("SELECT title, task_type FROM search_docs ORDER BY doc_id"))
            by_title = index.search(title, k=3, mode="keyword").hits
            assert title in [h.title for h in by_title] and by_title[0].matched_fields, name
            semantic = [(h.id, round(h.vector_similarity, 5)) for h in index.search(query, k=5, mode="semantic").hits]
            hybrid = index.search(query, k=5, mode="hybrid").hits
            assert all(h.keyword_rank or h.vector_rank for h in hybrid) and any(h.matched_fields for h in hybrid)
            assert all(h.strength is not None for h in hybrid)
            filtered = index.search(query, k=5, mode="hybrid", task_type=task_type).hits
            assert filtered and {h.task_type for h in filtered} == {task_type}
            if name == "postgresql":  # the HNSW path (no exact scan) finds what the exact scan finds here
                assert "hnsw" in store.query_one("SELECT indexdef FROM pg_indexes WHERE indexname = 'search_vec_hnsw'")[
                    "indexdef"]
                index.vectors = vector_leg(store, index.vectors.model_id, exact_max=0)
                via_index = [(h.id, round(h.vector_similarity, 5)) for h in index.search(query, k=5, mode="semantic").hits]
                assert via_index == semantic
            found[name] = semantic
    assert found["postgresql"] == found["sqlite"]  # the same vectors, rescored alike


async def test_the_mcp_tools_work_on_a_postgresql_store(pg_url, tmp_path, monkeypatch):
    import json as jsonlib

    from mcp import Client

    from mcp_distill.server import build_server

    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    shutil.copytree(EXAMPLES, data)
    async with Client(build_server(Settings(db_path=pg_url, roots=[tmp_path]))) as client:
        collected = await client.call_tool("collect_evidence", {"paths": [str(data)]})
        assert not collected.is_error, collected.content
        assert collected.structured_content["inserted"] > 100
        scored = await client.call_tool("score_run", {})
        assert not scored.is_error and scored.structured_content["by_category"]
        pushed = await client.call_tool("record_evidence", {"record": {"run_id": "mcp-pg", "text": "note"}})
        assert not pushed.is_error and pushed.structured_content["inserted"] == 1
        stats = jsonlib.loads((await client.read_resource("distill://stats")).contents[0].text)
    assert stats["evidence"] == collected.structured_content["inserted"] + 1
    assert stats["db_path"].startswith("postgresql://")


def test_the_dashboard_pages_render_from_a_postgresql_store(pg_url, tmp_path):
    from starlette.testclient import TestClient

    from mcp_distill.dashboard import dashboard_app
    from mcp_distill.search.playbooks import extract_playbooks

    settings = Settings(db_path=pg_url, roots=[tmp_path, PROJECT])
    with open_store(pg_url) as store:
        collect_paths(store, settings, [str(EXAMPLES)])
        score_runs(store, load_rules())
        extract_playbooks(store)
        run = store.query_one("SELECT run_key FROM runs ORDER BY run_key")["run_key"]
        title = store.query_one("SELECT data FROM playbooks ORDER BY playbook_id")["data"]
    with TestClient(dashboard_app(settings), base_url="http://127.0.0.1:8780") as client:
        pages = {url: client.get(url) for url in ("/", "/runs", "/review", "/playbooks", "/ledger", "/drift",
                                                  "/datasets", f"/runs/{run}")}
    assert {url: r.status_code for url, r in pages.items()} == dict.fromkeys(pages, 200)
    assert orjson.loads(title)["title"] in pages["/playbooks"].text
    assert run.split("@")[0] in pages["/runs"].text
