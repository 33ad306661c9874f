"""Shared fixtures: a real SQLite file in tmp_path with the real sqlite-vec extension."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_distill.store import Store, open_store

PROJECT = Path(__file__).resolve().parent.parent
SHARED = PROJECT.parent / "shared"
EXAMPLES = PROJECT / "examples" / "lakehouse_kb"


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
