"""Shared fixtures: a real SQLite file in tmp_path with the real sqlite-vec extension."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mcp_distill.store import Store, open_store

PROJECT = Path(__file__).resolve().parent.parent
# Tests live in one folder per package (tests/search/, tests/datasets/ ...) and a few share helpers
# across folders (the export-id redaction test reuses tests/datasets/test_export.py's rows, the dashboard
# tests tests/drift/test_drift.py's git helper): every test folder is importable by module name,
# whichever folder pytest collects first.
for _folder in sorted(p for p in Path(__file__).resolve().parent.iterdir()
                      if p.is_dir() and p.name not in ("fixtures", "__pycache__")):
    if str(_folder) not in sys.path:
        sys.path.append(str(_folder))
SHARED = PROJECT.parent / "shared"
EXAMPLES = PROJECT / "examples" / "lakehouse_kb"


@pytest.fixture(autouse=True)
def _fresh_query_vectors():
    """Each test starts with an empty process-wide query-vector LRU: a query another test embedded must
    not be served to a test whose embedder is down (or another model under the same id)."""
    from mcp_distill.search.embed.query_cache import QUERY_VECTORS

    QUERY_VECTORS.clear()
    yield


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_store(tmp_path / "distill.db")
    yield s
    s.close()


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: these tests read the shared real data in place (../shared)")
    return path


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, tries: int = 200) -> None:
    """Until a server subprocess answers at ``url`` (or ``tries`` x 0.1 s pass)."""
    import time

    import httpx

    for _ in range(tries):
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.1)


@pytest.fixture(scope="module")
def embedder():
    """The real default embedder (ONNX all-MiniLM-L6-v2), loaded once per test module."""
    from mcp_distill.search.embed import OnnxMiniLM

    return OnnxMiniLM()


@pytest.fixture(scope="module")
def example_store(tmp_path_factory, embedder):
    """The bundled example KB collected, scored, its playbooks extracted and indexed (once per module)."""
    from mcp_distill.collect.collector import collect_paths
    from mcp_distill.config import Settings
    from mcp_distill.score import load_rules, score_runs
    from mcp_distill.search.playbooks import extract_playbooks, index_playbooks

    db = tmp_path_factory.mktemp("pb") / "distill.db"
    store = open_store(db)
    collect_paths(store, Settings(db_path=db, roots=[PROJECT]), [str(EXAMPLES)])
    score_runs(store, load_rules())
    extract_playbooks(store)
    index_playbooks(store, embedder)
    yield store
    store.close()


PG_ENV = "MCP_DISTILL_TEST_PG"


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """A real PostgreSQL server with pgvector: ``MCP_DISTILL_TEST_PG`` when given, else one started by
    pgserver (PostgreSQL 16 + pgvector from PyPI) in a session folder. In CI a missing server fails.

    The data folder is not under pytest's basetemp: pytest deletes old numbered basetemps when other
    runs start, which would pull the folder from under a server still running."""
    import os
    import shutil
    import tempfile

    if os.environ.get(PG_ENV):
        yield os.environ[PG_ENV]
        return
    try:
        import pgserver
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("no PostgreSQL server: install the test extra (pgserver) or set MCP_DISTILL_TEST_PG")
    folder = tempfile.mkdtemp(prefix="mcp-distill-pg-")
    server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server_url: str) -> str:
    """A fresh, empty database on the test server for one test (dropped afterwards)."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield make_conninfo_url(pg_server_url, name)
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_conninfo_url(server_url: str, dbname: str) -> str:
    """``server_url`` pointed at database ``dbname`` (the path of a postgresql:// URL)."""
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(server_url)._replace(path=f"/{dbname}"))


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path: Path):
    """The store contract's subject: a fresh store on each backend in turn."""
    location = tmp_path / "distill.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    s = open_store(location)
    yield s
    s.close()
