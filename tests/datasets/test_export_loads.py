"""Every export kind loads with the Hugging Face `datasets` library, as a trainer would read it.

`datasets` is in the test extra; it reads the local JSONL files offline (HF_DATASETS_OFFLINE=1 here).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_export import mixed, mixed_rows  # noqa: F401  (the shared fixture and its rows)

from mcp_distill.datasets.build import export_dataset

datasets = pytest.importorskip("datasets", reason="the `datasets` library is in the test extra: pip install -e '.[test]'")


def load(out: Path, kind: str, cache: Path):
    files = {p.stem: str(p) for p in sorted((out / kind).glob("*.jsonl"))}
    assert files, f"no {kind} files"
    return datasets.load_dataset("json", data_files=files, cache_dir=str(cache))


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_every_export_kind_loads_with_load_dataset(mixed, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    result = export_dataset(mixed, "all", str(out))
    written = {rel: info["rows"] for rel, info in result["files"].items()}
    assert all(rows > 0 for rows in written.values()), "an empty file was written"
    for kind in ("sft", "preference", "rag"):
        loaded = load(out, kind, tmp_path / "cache")
        for split, ds in loaded.items():
            rel = f"{kind}/{split}.jsonl" if kind != "rag" else f"rag/{split}.jsonl"
            assert ds.num_rows == written[rel]
    sft = load(out, "sft", tmp_path / "cache")["train"]
    assert {"messages"} <= set(sft.column_names)
    assert sft[0]["messages"][0]["role"] in ("system", "user")
    pref = load(out, "preference", tmp_path / "cache")["train"]
    assert {"prompt", "chosen", "rejected"} <= set(pref.column_names)


def test_an_empty_split_is_not_written_and_the_receipt_says_so(mixed, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    (out / "preference").mkdir(parents=True)
    (out / "preference" / "validation.jsonl").write_text('{"stale": true}\n')  # an earlier export's file
    result = export_dataset(mixed, "all", str(out))
    present = {str(p.relative_to(out)) for p in out.rglob("*.jsonl")}
    assert present == set(result["files"])
    for rel in {"sft/train.jsonl", "sft/validation.jsonl", "preference/train.jsonl", "preference/validation.jsonl"} - present:
        assert any(w.startswith(f"{rel}: 0 rows") for w in result["warnings"])
        assert not (out / rel).exists()
