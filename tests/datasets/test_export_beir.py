"""`export --kind rag --format beir`: BEIR's corpus/queries/qrels layout, read by BEIR's own loader and by `datasets`."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
import pytest
from conftest import shared_path
from test_export import mixed, mixed_rows, read_rows  # noqa: F401  (the shared fixture and its rows)

from mcp_distill.datasets.beir import QRELS_HEADER, query_id
from mcp_distill.datasets.build import export_dataset, validate_export
from mcp_distill.errors import InvalidInputError

BEIR_FILES = {"rag/corpus.jsonl", "rag/queries.jsonl", "rag/qrels/test.tsv"}


def qrels(out: Path) -> list[tuple[str, str, int]]:
    with open(out / "rag/qrels/test.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    assert rows[0] == ["query-id", "corpus-id", "score"]
    return [(q, d, int(s)) for q, d, s in rows[1:]]


@pytest.fixture
def beir_out(mixed, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    result = export_dataset(mixed, "rag", str(out), rag_format="beir")
    return out, result


def test_beir_files_relate_accepted_tasks_to_their_runs_chunks(mixed, beir_out):  # noqa: F811
    out, result = beir_out
    assert set(result["files"]) == BEIR_FILES
    assert not (out / "rag/chunks.jsonl").exists()
    corpus = {d["_id"]: d for d in read_rows(out, "rag/corpus.jsonl")}
    queries = {q["_id"]: q for q in read_rows(out, "rag/queries.jsonl")}
    pairs = qrels(out)
    assert corpus and queries and pairs
    assert all(set(d) == {"_id", "title", "text", "metadata"} for d in corpus.values())
    accepted = {r["run_key"] for r in mixed.query("SELECT run_key FROM scores WHERE category = 'accepted'")}
    inputs = {r["input_text"] for r in mixed_rows() if r.get("input_text")}
    for q in queries.values():
        assert set(q["metadata"]["run_ids"]) <= accepted
        assert q["text"] in inputs  # the task text as the run was given it
        assert q["_id"] == query_id(q["metadata"]["task_key"])
    for qid, doc_id, score in pairs:
        assert score == 1
        assert set(queries[qid]["metadata"]["run_ids"]) & set(corpus[doc_id]["metadata"]["source_run_ids"])
    assert {q for q, _, _ in pairs} == set(queries)  # no query without a relevant chunk
    # run c1 was accepted on its second attempt: its query's relevant chunks include its accepted output
    c1 = next(q for q in queries.values() if q["metadata"]["run_ids"] == ["run:c1"])
    texts = [corpus[d]["text"] for q, d, _ in pairs if q == c1["_id"]]
    assert any(t.startswith("[attempt c2]") for t in texts)
    counts = result["counts"]
    assert counts["beir_queries"] == len(queries) and counts["beir_qrels"] == len(pairs)
    receipt = orjson.loads((out / "receipt.json").read_bytes())
    assert receipt["details"]["rag_format"] == "beir"
    assert {Path(f["path"]).as_posix() for f in receipt["output_files"]} == BEIR_FILES
    assert validate_export(mixed, out).ok


def test_beirs_own_loader_reads_the_export_like_scifact(beir_out):
    loader = pytest.importorskip("beir.datasets.data_loader",
                                 reason="BEIR's loader: pip install --no-deps beir (.ci/run does)").GenericDataLoader
    out, result = beir_out
    corpus, queries, rels = loader(str(out / "rag")).load(split="test")
    assert len(corpus) == result["files"]["rag/corpus.jsonl"]["rows"]
    assert set(queries) == {q["_id"] for q in read_rows(out, "rag/queries.jsonl")}
    assert sum(len(v) for v in rels.values()) == result["files"]["rag/qrels/test.tsv"]["rows"]
    scifact = shared_path("data", "ir", "scifact")  # BEIR's published layout, for comparison
    sc_corpus, sc_queries, sc_rels = loader(str(scifact)).load(split="test")
    assert len(sc_queries) == 300 and sc_rels
    assert set(next(iter(sc_corpus.values()))) == set(next(iter(corpus.values()))) == {"text", "title"}
    assert (scifact / "qrels/test.tsv").open("rb").readline() == QRELS_HEADER


def test_beir_files_load_with_load_dataset(beir_out, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets", reason="the `datasets` library is in the test extra")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    out, result = beir_out
    cache = str(tmp_path / "cache")
    corpus = datasets.load_dataset("json", data_files={"corpus": str(out / "rag/corpus.jsonl")}, cache_dir=cache)
    queries = datasets.load_dataset("json", data_files={"queries": str(out / "rag/queries.jsonl")}, cache_dir=cache)
    rels = datasets.load_dataset("csv", data_files={"test": str(out / "rag/qrels/test.tsv")}, delimiter="\t",
                                 cache_dir=cache)
    assert corpus["corpus"].num_rows == result["files"]["rag/corpus.jsonl"]["rows"]
    assert {"_id", "title", "text"} <= set(corpus["corpus"].column_names)
    assert queries["queries"].num_rows == result["files"]["rag/queries.jsonl"]["rows"]
    assert rels["test"].column_names == ["query-id", "corpus-id", "score"]
    assert rels["test"].num_rows == result["files"]["rag/qrels/test.tsv"]["rows"]


def test_validator_refuses_a_qrel_to_another_runs_chunk(mixed, beir_out):  # noqa: F811
    out, _ = beir_out
    pairs = qrels(out)
    corpus = read_rows(out, "rag/corpus.jsonl")
    qid = pairs[0][0]
    runs = set(next(q for q in read_rows(out, "rag/queries.jsonl") if q["_id"] == qid)["metadata"]["run_ids"])
    other = next(d["_id"] for d in corpus if not runs & set(d["metadata"]["source_run_ids"]))
    with open(out / "rag/qrels/test.tsv", "ab") as handle:
        handle.write(f"{qid}\t{other}\t1\nq:unknown0000000\t{other}\t1\n".encode())
    report = validate_export(mixed, out)
    assert not report.ok
    assert any("comes from none of query" in e for e in report.errors)
    assert any("is not in queries.jsonl" in e for e in report.errors)


def test_switching_layouts_replaces_the_other_layouts_files(mixed, beir_out):  # noqa: F811
    out, _ = beir_out
    export_dataset(mixed, "rag", str(out))
    assert {str(p.relative_to(out)) for p in out.rglob("*.*sv")} | {
        str(p.relative_to(out)) for p in out.rglob("*.jsonl")} == {"rag/chunks.jsonl"}
    assert validate_export(mixed, out).ok
    with pytest.raises(InvalidInputError, match="unknown RAG format"):
        export_dataset(mixed, "rag", str(out), rag_format="trec")
