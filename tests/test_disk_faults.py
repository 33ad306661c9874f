"""Disk faults (issue 18 item 4): a read-only folder and a full file system give one clear line and exit 1.

Each test mounts a small tmpfs of its own (as root); where mounting is not allowed it is skipped with why.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest


def _mount(point: Path, options: str) -> None:
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], check=True, capture_output=True)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs at tmp_path/fs, unmounted afterwards."""
    point = tmp_path / "fs"
    point.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command here: a small tmpfs cannot be made")
    try:
        _mount(point, "size=2m")
    except (subprocess.CalledProcessError, OSError) as exc:
        pytest.skip(f"cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): {exc}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False, capture_output=True)


def cli(tmp_path: Path, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mcp_distill", "--db", str(db), "--root", str(tmp_path), *args],
                          capture_output=True, text=True, timeout=300)


def one_clear_line(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    print(lines[0])


def evidence(folder: Path, n: int, width: int = 600) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "evidence.jsonl"
    with open(path, "wb") as handle:
        for i in range(n):
            handle.write(orjson.dumps({
                "run_id": f"r{i}", "task_type": "review", "input_text": f"task {i} " + "x" * width,
                "output_text": f"answer {i} " + "y" * width,
                "signals": {"verdict": "accept", "verdict_source": "observer", "confidence": 0.9}}) + b"\n")
    return path


def test_export_into_a_read_only_folder(tmp_path, small_fs):
    db = tmp_path / "d.db"
    assert cli(tmp_path, db, "collect", str(evidence(tmp_path / "src", 20))).returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    one_clear_line(cli(tmp_path, db, "export", "--out", str(small_fs / "exports")), "read-only", "--out")


def test_export_onto_a_full_disk_keeps_the_previous_export(tmp_path, small_fs):
    db = tmp_path / "d.db"
    cli(tmp_path, db, "collect", str(evidence(tmp_path / "src", 40)))
    assert cli(tmp_path, db, "score").returncode == 0
    out = small_fs / "exports"
    first = cli(tmp_path, db, "export", "--out", str(out))
    assert first.returncode == 0, first.stderr
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with open(small_fs / "filler", "wb") as handle:  # leave the next export no room
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    one_clear_line(cli(tmp_path, db, "export", "--out", str(out)), "no space", "previous export")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not [p for p in out.rglob(".*")]  # no temp file left behind


def test_collect_onto_a_full_disk_keeps_what_was_stored_and_resumes(tmp_path, small_fs):
    db = small_fs / "d.db"
    src = evidence(tmp_path / "src", 6000)  # ~7.5 MB of lines: more than the 2 MiB store disk holds
    one_clear_line(cli(tmp_path, db, "collect", str(src)), "no space", "re-run")
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        kept = conn.execute("SELECT count(*) FROM evidence").fetchone()[0]
        offset = conn.execute("SELECT coalesce(max(byte_offset), 0) FROM sources").fetchone()[0]
    # what was committed is exactly the lines before the stored offset: nothing half-written
    assert kept == src.read_bytes()[:offset].count(b"\n")
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_fs)], check=True)
    again = cli(tmp_path, db, "--json", "collect", str(src))
    assert again.returncode == 0, again.stderr
    assert orjson.loads(again.stdout)["inserted"] == 6000 - kept
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM evidence").fetchone()[0] == 6000
