"""The RAG export in BEIR's layout (``export --kind rag --format beir``), so IR tooling can evaluate a retriever on it.

BEIR's ``GenericDataLoader(folder).load("test")`` reads three files from a folder, here ``rag/``:

* ``corpus.jsonl``: ``{"_id", "title", "text", "metadata"}`` per chunk (the same chunks as the default
  ``rag/chunks.jsonl``: accepted evidence and playbooks; what BEIR has no field for is kept in
  ``metadata``: kind, tags, task type, source runs, the chunk's details and its provenance).
* ``queries.jsonl``: ``{"_id", "text", "metadata"}``, one per task of an accepted run: the ``input_text``
  of the run's input record (the task as given to the model). Runs of one task share one query.
* ``qrels/test.tsv``: ``query-id<TAB>corpus-id<TAB>score`` under that header line: a query's relevant
  chunks are the chunks its accepted runs produced or that playbooks distilled from them (score 1).
  A query with no chunk left (all its runs' texts were too short or duplicates) is not written.

Ids: corpus ids are the RAG chunk ids; a query id is ``q:`` + 16 hex of sha256(task key), stable
across exports. The same layout is checked from the store by :mod:`mcp_distill.datasets.checks`.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from mcp_distill.datasets import mine
from mcp_distill.models import BeirQuery

if TYPE_CHECKING:  # io and publish import the validator's checks, which import this module
    from mcp_distill.datasets.io import AtomicFile
    from mcp_distill.redact import Publisher

CORPUS = "rag/corpus.jsonl"
QUERIES = "rag/queries.jsonl"
QRELS = "rag/qrels/test.tsv"
FILES = (CORPUS, QUERIES, QRELS)
#: The header line of a BEIR qrels file (BEIR's loader skips the first line).
QRELS_HEADER = b"query-id\tcorpus-id\tscore\n"
#: Relevance of a chunk of one of the query's accepted runs (BEIR: graded, >= 1 is relevant).
RELEVANT = 1


def query_id(task_key: str) -> str:
    return "q:" + hashlib.sha256(task_key.encode("utf-8")).hexdigest()[:16]


def as_doc(row: dict[str, Any]) -> dict[str, Any]:
    """A RagSample row as a BEIR corpus line."""
    return {"_id": row["id"], "title": row["title"], "text": row["text"], "metadata": {
        "kind": row["kind"], "tags": row["tags"], "task_type": row["task_type"],
        "source_run_ids": row["source_run_ids"], "detail": row["metadata"], "provenance": row["provenance"]}}


def as_rag(doc: dict[str, Any]) -> dict[str, Any]:
    """A BEIR corpus line back in RagSample shape (the validator checks both with the same rules)."""
    meta = doc["metadata"]
    return {"id": doc["_id"], "text": doc["text"], "title": doc.get("title", ""), "tags": meta.get("tags", []),
            "task_type": meta.get("task_type"), "kind": meta.get("kind", "evidence"),
            "source_run_ids": meta["source_run_ids"], "metadata": meta.get("detail", {}),
            "provenance": meta["provenance"]}


@dataclass
class _Query:
    qid: str
    text: str
    runs: list[str]
    provenance: dict[str, Any]


@dataclass
class BeirBuilder:
    """Queries from accepted runs as they are scanned, relevance pairs from the chunks as they are written."""

    stats: Counter[str]
    queries: dict[str, _Query] = field(default_factory=dict)  # task key -> query
    run_query: dict[str, str] = field(default_factory=dict)  # run key -> task key
    qrels: set[tuple[str, str]] = field(default_factory=set)  # (task key, corpus id)

    def add_run(self, view: mine.RunView) -> None:
        """An accepted run's task text becomes (or joins) its task's query."""
        if view.category != "accepted":
            return
        key, input_rec = view.task_key, view.input_record()
        if key is None or input_rec is None:
            self.stats["beir_runs_without_task_text"] += 1
            return
        query = self.queries.get(key)
        if query is None:
            self.queries[key] = _Query(query_id(key), input_rec["input_text"], [view.run_key],
                                       mine.provenance(input_rec))
        else:
            query.runs.append(view.run_key)
        self.run_query[view.run_key] = key

    def on_doc(self, doc: dict[str, Any], raw_runs: list[str]) -> None:
        """A corpus line was written (ids as published): it is relevant to the queries of its source runs."""
        for run in raw_runs:
            key = self.run_query.get(run)
            if key is not None:
                self.qrels.add((key, doc["_id"]))

    def write(self, queries: AtomicFile, qrels: AtomicFile, scrub: Callable[[str], str], ids: Publisher,
              feed: Callable[[str, list[bytes]], None]) -> None:
        """Write the queries that have a relevant chunk, then their qrels (after the corpus, which they name).

        Query text is redacted by ``scrub``, its ids and provenance published by ``ids``, as every export row."""
        from mcp_distill.datasets.publish import publish_ids  # publish imports the checks, which import this module

        relevant: dict[str, list[str]] = {}
        for key, doc_id in self.qrels:
            relevant.setdefault(key, []).append(doc_id)
        rows = []
        for key, query in sorted(self.queries.items(), key=lambda kv: kv[1].qid):
            if key not in relevant:
                self.stats["beir_queries_without_chunks"] += 1
                continue
            rows.append({"_id": query.qid, "text": scrub(query.text), "metadata": {
                "task_key": key, "run_ids": sorted(query.runs), "provenance": [dict(query.provenance)]}})
        publish_ids("beir_queries", rows, ids)
        lines = []
        for row in rows:
            BeirQuery.model_validate(row)
            lines.append(orjson.dumps(row) + b"\n")
        for line in lines:
            queries.write(line)
        feed(queries.rel, lines)
        self.stats["beir_queries"] = len(lines)
        qrels.write_header(QRELS_HEADER)
        rows = [f"{self.queries[key].qid}\t{doc_id}\t{RELEVANT}\n".encode()
                for key in sorted(relevant, key=lambda k: self.queries[k].qid) for doc_id in sorted(relevant[key])]
        for line in rows:
            qrels.write(line)
        feed(qrels.rel, [QRELS_HEADER, *rows])
        self.stats["beir_qrels"] = len(rows)
