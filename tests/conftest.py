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
