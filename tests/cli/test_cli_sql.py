"""`mcp-distill sql` and `mcp-distill datasette`: the store opened with sqlite-vec loaded, read-only by default."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import PROJECT, free_port, wait_for_http

from mcp_distill.cli import main
from mcp_distill.store import open_store


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "d.db"
    assert main(["--db", str(path), "--root", str(PROJECT), "collect", str(PROJECT / "examples/custom"), "--mapping",
                 str(PROJECT / "examples/mappings/example.toml")]) == 0
    return path


def sql(db: Path, *args: str) -> list[str]:
    return ["--db", str(db), *args]


def test_sql_reads_with_sqlite_vec_loaded(db, capsys):
    capsys.readouterr()
    assert main(sql(db, "--json", "sql", "SELECT count(*) AS n, vec_version() AS v, "
                                          "vec_length(vec_f32('[1, 2, 3]')) AS d FROM evidence")) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["n"] == 6 and row["v"].startswith("v") and row["d"] == 3
    assert main(sql(db, "sql", "SELECT stream, count(*) AS records FROM evidence GROUP BY stream")) == 0
    table = capsys.readouterr().out
    assert "eval_runs" in table and "records" in table
    assert main(sql(db, "--json", "sql", "SELECT run_id FROM evidence ORDER BY run_id", "--limit", "2")) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_sql_is_read_only_unless_write_and_writes_in_one_transaction(db, capsys):
    capsys.readouterr()
    assert main(sql(db, "sql", "DELETE FROM evidence")) == 1
    assert "--write" in capsys.readouterr().err
    store = open_store(db)
    assert store.query_one("SELECT count(*) AS n FROM evidence")["n"] == 6
    assert main(sql(db, "sql", "SELECT 1; SELECT 2")) == 1
    assert "one statement" in capsys.readouterr().err
    assert main(sql(db, "sql", "SELECT * FROM no_such_table")) == 1
    assert "no such table" in capsys.readouterr().err
    assert main(sql(db, "--json", "sql", "--write", "UPDATE meta SET value = value WHERE key = 'redaction_key'")) == 0
    assert json.loads(capsys.readouterr().out) == {"changes": 1}
    assert main(sql(db, "sql", "--write", "INSERT INTO meta(key, value) VALUES ('redaction_key', 'x')")) == 1
    assert "UNIQUE" in capsys.readouterr().err  # the failed statement changed nothing
    assert store.query_one("SELECT count(*) AS n FROM meta WHERE key = 'redaction_key'")["n"] == 1
    store.close()
    assert main(["--db", str(db.parent / "none.db"), "sql", "SELECT 1"]) == 1
    assert "no store at" in capsys.readouterr().err
    assert not (db.parent / "none.db").exists()
    assert main(["--db", "postgresql://distill:s3cret@db.example/distill", "sql", "SELECT 1"]) == 1
    message = capsys.readouterr().err
    assert "PostgreSQL store" in message and "s3cret" not in message


def test_vec_path_names_a_loadable_extension_file(capsys):
    assert main(["sql", "--vec-path"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.is_file() and "vec0" in path.name


@pytest.mark.skipif(importlib.util.find_spec("datasette") is None, reason="datasette not installed (test extra)")
def test_datasette_serves_the_store_with_sqlite_vec(db):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mcp_distill", "--db", str(db), "datasette", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/-/versions.json")
        answer = httpx.get(f"http://127.0.0.1:{port}/{db.stem}.json", params={
            "sql": "SELECT vec_version() AS v, count(*) AS n FROM evidence", "_shape": "array"}, timeout=30)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert answer.status_code == 200, answer.text
    [row] = answer.json()
    assert row["v"].startswith("v") and row["n"] == 6


def test_datasette_missing_is_one_line_naming_the_install(db):
    # sys.modules[name] = None is Python's own way to make a module unimportable in this process
    code = ("import sys; sys.modules['datasette'] = None; from mcp_distill.cli import main; "
            f"sys.exit(main(['--db', {str(db)!r}, 'datasette']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "pip install datasette" in done.stderr and len(done.stderr.strip().splitlines()) == 1
