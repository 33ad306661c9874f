"""Shared set-up of the dashboard tests: the example store (plus a drift history and a log line
holding HTML), a real uvicorn server on 127.0.0.1, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import EXAMPLES, PROJECT, free_port
from test_drift import git

from mcp_distill.collect.live import record_evidence
from mcp_distill.config import Settings
from mcp_distill.drift.snapshots import run_drift
from mcp_distill.pipeline import run_pipeline
from mcp_distill.score import load_rules
from mcp_distill.search.embed import embedder_from_env
from mcp_distill.store import open_store

CHROMIUM = "/usr/bin/chromium"
HOSTILE = "<script>window.__xss = 1</script><b>bold?</b>"
#: The tests refresh the README's screenshots only when asked (their timestamps change every run, and
#: a changed tracked file would dirty every worktree that runs the suite):
#: MCP_DISTILL_SCREENSHOTS=docs/screenshots .venv/bin/pytest tests/dashboard/test_dashboard_browser.py
SCREENSHOTS_ENV = "MCP_DISTILL_SCREENSHOTS"
PRD = """# Phase 1: core
- [x] The parser lives in `src/parse.py` with `parse_claims`
- [x] The server answers `GET /v1/items`
- [ ] Docs in `docs/guide.md`
"""


def drift_history(root: Path) -> Path:
    """A repository with two commits: the second removes the parser, so a claim breaks between them."""
    repo = root / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "parse.py").write_text("def parse_claims(text):\n    return []\n")
    (repo / "src" / "server.py").write_text('ROUTES = {"/v1/items": None}\n')
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one")
    (repo / "src" / "parse.py").unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "two")
    prd = root / "PRD.md"
    prd.write_text(PRD)
    return prd


def build_example_store(root: Path) -> Settings:
    """The bundled example data through the whole pipeline, two drift snapshots, and a run whose log
    line holds HTML (it has no outcome signal, so it waits in the review queue)."""
    settings = Settings(db_path=root / "distill.db", roots=[root, PROJECT])
    hostile = root / "hostile" / "notes.jsonl"
    hostile.parent.mkdir()
    line = {"stream": "evidence", "run_id": "html-run", "timestamp": "2026-04-01T00:00:00Z", "text": HOSTILE}
    hostile.write_bytes(orjson.dumps(line)[:-1] + b"\n")  # its closing brace cut: invalid JSON, quarantined
    store = open_store(settings.db_path)
    try:
        # pushed live like an agent would; the same line cut short in a file is quarantined, so its
        # excerpt (shown on the overview) holds the HTML too
        record_evidence(store, line)
        run_pipeline(store, settings, load_rules(None), embedder_from_env(), [str(EXAMPLES), str(hostile.parent)],
                     out_dir=root / "exports")
        prd = drift_history(root)
        run_drift(store, settings, prd, root / "repo", rev="HEAD~1")
        run_drift(store, settings, prd, root / "repo", rev="HEAD")
    finally:
        store.close()
    return settings


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_example_store(tmp_path_factory.mktemp("dash"))


@pytest.fixture(scope="module")
def server(example: Settings) -> Iterator[str]:
    """The dashboard on a real socket of 127.0.0.1, as `mcp-distill dashboard` serves it."""
    import uvicorn

    from mcp_distill.dashboard import dashboard_app

    port = free_port()
    config = uvicorn.Config(dashboard_app(example, reviewer="tester"), host="127.0.0.1", port=port,
                            log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the dashboard server did not start in 20 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(10)


def chromium_or_skip() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run installs it with apt-get install chromium")
    pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium); the browser tests need Debian's Chromium")
    return ""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_or_skip()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


class Watched:
    """A page that records console errors, page errors and every request it makes."""

    def __init__(self, page: Any):
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))

    def outside(self, origin: str) -> list[str]:
        return [u for u in self.requests if not (u.startswith(origin + "/") or u == origin or u.startswith("data:"))]


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1200, "height": 760}, device_scale_factor=1)
    yield Watched(context.new_page())
    context.close()


def screenshot(page: Any, name: str, tmp: Path) -> Path:
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or tmp)
    if not folder.is_absolute():
        folder = PROJECT / folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    return path

