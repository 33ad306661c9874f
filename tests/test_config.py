"""Settings: roots guard every path; relative paths are found under the roots."""

from __future__ import annotations

import pytest

from mcp_distill.config import Settings
from mcp_distill.errors import PathNotAllowedError


def test_paths_inside_and_outside_the_roots(tmp_path, monkeypatch):
    root = tmp_path / "root"
    (root / "data").mkdir(parents=True)
    settings = Settings(db_path=tmp_path / "d.db", roots=[root.resolve()])
    assert settings.check_path(root / "data") == (root / "data").resolve()
    with pytest.raises(PathNotAllowedError, match="outside the allowed roots"):
        settings.check_path(tmp_path)
    with pytest.raises(PathNotAllowedError):
        settings.check_path(root / ".." / "elsewhere")
    monkeypatch.chdir(tmp_path)  # a server started elsewhere: relative paths are taken from the roots
    assert settings.check_path("data") == (root / "data").resolve()
    assert settings.check_path("new_folder") == (root / "new_folder").resolve()
    with pytest.raises(PathNotAllowedError):
        settings.check_path("../../etc")


def test_environment_configures_db_and_roots(tmp_path, monkeypatch):
    monkeypatch.setenv("MCP_DISTILL_DB", str(tmp_path / "x.db"))
    monkeypatch.setenv("MCP_DISTILL_ROOTS", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    settings = Settings.from_env()
    assert settings.db_path == tmp_path / "x.db"
    assert settings.roots == [(tmp_path / "a").resolve(), (tmp_path / "b").resolve()]
    explicit = Settings.from_env(db=str(tmp_path / "y.db"), roots=[str(tmp_path)])
    assert explicit.db_path == tmp_path / "y.db" and explicit.roots == [tmp_path.resolve()]
