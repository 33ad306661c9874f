"""The row-level checks behind :mod:`mcp_distill.datasets.validate`.

One row at a time: its schema (:func:`parse_row`), its store facts and splits (:class:`RowValidator`),
its provenance against the source files and the evidence table (through
:class:`mcp_distill.datasets.lookups.Lookups`, which also turns published ids and paths back into raw
ones), and the secret scan of every string of the row. The streaming, the child process and the public
entry points stay in :mod:`mcp_distill.datasets.validate`.
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, ValidationError

from mcp_distill.datasets.beir import QRELS_HEADER, as_rag, query_id
from mcp_distill.datasets.lookups import Found, Lookups
from mcp_distill.datasets.mine import differ, split_for, text_digest
from mcp_distill.redact import find_secrets, suspects
from mcp_distill.store import ReadOnlyStore, Store

if TYPE_CHECKING:  # only for hints: validate imports this module
    from mcp_distill.datasets.validate import ValidationReport


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")


class RowValidator:
    """The checks of one export's rows, file by file (the module doc of :mod:`mcp_distill.datasets.validate`
    lists them); BEIR's three files are checked against each other through the ids kept here."""

    def __init__(self, store: Store | ReadOnlyStore, report: ValidationReport,
                 known_clean: Container[bytes] | None = None):
        self.report = report
        self.lookups = Lookups(store)
        self.rag_ids: set[str] = set()
        self.known_clean = known_clean
        self.doc_runs: dict[str, frozenset[str]] = {}  # BEIR corpus id -> its source runs
        self.query_runs: dict[str, frozenset[str]] = {}  # BEIR query id -> its runs
        self.qrel_pairs: set[tuple[str, str]] = set()

    def prefetch(self, kind: str, rows: list[dict[str, Any]]) -> None:
        runs: set[str] = set()
        provs: set[tuple[str, int, str]] = set()
        for row in rows:
            if kind == "beir_corpus":
                row = as_rag(row)  # the same facts, in RAG shape
            meta = row["metadata"]
            if kind == "beir_queries":
                runs.update(meta["run_ids"])
            elif kind == "sft":
                runs.add(meta["run_id"])
            elif kind == "preference":
                runs.update((meta["chosen_run_id"], meta["rejected_run_id"]))
            else:
                runs.update(row["source_run_ids"])
            for p in meta.get("provenance") or row.get("provenance") or []:
                provs.add((p["source_file"], p["line_offset"], p["sig_hash"]))
        self.lookups.prefetch(runs, provs)

    def fail(self, where: str, message: str) -> None:
        self.report.error(f"{where}: {message}")

    def provenance(self, where: str, provs: list[dict[str, Any]]) -> None:
        for i, prov in enumerate(provs):
            self.report.checks["provenance"] += 1
            problem = self.lookups.source(prov)
            if problem:
                self.fail(where, f"provenance[{i}]: {problem}")
            elif not self.lookups.records(prov):
                self.fail(where, f"provenance[{i}] ({prov['source_file']}@{prov['line_offset']}) matches no "
                                 "evidence record in the store")

    def _of_run(self, prov: dict[str, Any], runs: set[str]) -> list[Found]:
        raw = {self.lookups.resolve.run(r) for r in runs}
        return [f for f in self.lookups.records(prov) if f.run_key in raw]

    def _of_task(self, key: str, found: list[Found]) -> bool:
        return any(self.lookups.resolve.matches(key, f.task_key) for f in found)

    def _shown(self, keys: set[str]) -> list[str]:
        """Raw task keys found in the store, as an error message may show them."""
        return self.lookups.resolve.ids.publish(sorted(keys))

    def row(self, kind: str, split: str | None, where: str, row: dict[str, Any]) -> None:
        if split is not None and row["metadata"]["split"] != split:
            self.fail(where, f"split {row['metadata']['split']!r} in the {split} file")
        getattr(self, kind)(where, row, row["metadata"] if kind != "rag" else row)
        self.secrets(where, row)

    def secrets(self, where: str, row: dict[str, Any]) -> None:
        """Every string of the row, ids and provenance included: one joined scan, then the suspects alone."""
        todo: list[tuple[str, str]] = []
        for field_name, text in _strings(row, "row"):
            if self.known_clean is not None and text_digest(text) in self.known_clean:
                self.report.checks["secret_scans_memoised"] += 1
            else:
                todo.append((field_name, text))
        self.report.checks["secret_scans"] += len(todo)
        for i in sorted(suspects([text for _, text in todo])):
            field_name, text = todo[i]
            if found := find_secrets(text):
                kinds = ", ".join(sorted({s.type for s in found}))
                self.fail(where, f"{field_name[4:]} still holds a secret ({kinds}): redaction missed it")

    def sft(self, where: str, row: dict[str, Any], meta: dict[str, Any]) -> None:
        run = meta["run_id"]
        category = self.lookups.category(run)
        self.report.checks["sft_run_accepted"] += 1
        if category != "accepted":
            self.fail(where, f"run {run} is {category or 'not scored or not in the store'}, not accepted: "
                             "only accepted runs may be in SFT")
        self.provenance(where, meta["provenance"])
        for i, prov in enumerate(meta["provenance"]):
            if self.lookups.records(prov) and not self._of_run(prov, {run}):
                self.fail(where, f"provenance[{i}]'s record belongs to another run than {run}")
        own = self._of_run(meta["provenance"][0], {run})
        keys = {f.task_key for f in own if f.task_key}
        if own and not any(f.split == meta["split"] for f in own if f.task_key):
            self.fail(where, f"split {meta['split']!r} is not the split of the run's task {self._shown(keys)}")
        for i, prov in enumerate(meta["provenance"][1:], 1):  # the prompt's record: the answer's task
            found = self._of_run(prov, {run})
            if own and found and not keys & {f.task_key for f in found}:
                self.fail(where, f"provenance[{i}] (the prompt) is of another task than the answer {self._shown(keys)}")

    def preference(self, where: str, row: dict[str, Any], meta: dict[str, Any]) -> None:
        self.report.checks["preference_pairs"] += 1
        if not differ(row["chosen"], row["rejected"]):
            self.fail(where, "chosen and rejected are the same after normalisation")
        provs = meta["provenance"]
        self.provenance(where, provs)
        chosen_run, rejected_run, key = meta["chosen_run_id"], meta["rejected_run_id"], meta["task_key"]
        chosen = self._of_run(provs[0], {chosen_run})
        rejected = self._of_run(provs[1], {rejected_run})
        if not chosen:
            self.fail(where, f"provenance[0] (chosen) is not a record of run {chosen_run}")
        if not rejected:
            self.fail(where, f"provenance[1] (rejected) is not a record of run {rejected_run}")
        if chosen and rejected and (not self._of_task(key, chosen) or not self._of_task(key, rejected)):
            self.fail(where, f"chosen and rejected are not of one task {key!r}")
        raw_key = next((f.task_key for f in chosen + rejected if f.task_key and self.lookups.resolve.matches(key, f.task_key)),
                       self.lookups.resolve.aliases.get(key, key))
        if split_for(raw_key) != meta["split"]:
            self.fail(where, f"split {meta['split']!r} is not the split of task {key!r}")
        for i, prov in enumerate(provs[2:], 2):  # the prompt's record: the chosen run's, same task
            found = self._of_run(prov, {chosen_run})
            if not found:
                self.fail(where, f"provenance[{i}] (the prompt) is not a record of run {chosen_run}")
            elif not self._of_task(key, found):
                self.fail(where, f"provenance[{i}] (the prompt) is of another task than {key!r}")
        c_cat, r_cat = self.lookups.category(chosen_run), self.lookups.category(rejected_run)
        if chosen_run != rejected_run:
            if c_cat != "accepted" or r_cat != "rejected":
                self.fail(where, f"across runs the chosen run must be accepted and the rejected run rejected; "
                                 f"{chosen_run} is {c_cat}, {rejected_run} is {r_cat}")
        else:  # one run: two different attempts of it (the schema refused a pair without both numbers)
            self.report.checks["preference_attempts_within_run"] += 1
            if meta["source"] != "attempts":
                self.fail(where, f"a {meta['source']} pair inside one run: only two attempts of a run may be paired")
            if c_cat not in ("accepted", "partially_accepted"):
                self.fail(where, f"attempts within run {chosen_run}: the run is {c_cat}, not accepted")
            for side, found, number in (("chosen", chosen, meta["chosen_attempt"]),
                                        ("rejected", rejected, meta["rejected_attempt"])):
                if found and not any(f.attempt == number for f in found):
                    self.fail(where, f"the {side} record is not attempt {number} of run {chosen_run}")

    def beir_corpus(self, where: str, row: dict[str, Any], _: dict[str, Any]) -> None:
        """A BEIR corpus line: the RAG chunk rules, and its id and runs kept for the qrels."""
        self.rag(where, as_rag(row), {})
        self.doc_runs[row["_id"]] = frozenset(row["metadata"]["source_run_ids"])

    def beir_queries(self, where: str, row: dict[str, Any], meta: dict[str, Any]) -> None:
        """A BEIR query: its runs are accepted, its text's record is one of theirs, of the query's task."""
        qid, key, runs = row["_id"], meta["task_key"], set(meta["run_ids"])
        if qid in self.query_runs:
            self.fail(where, f"query id {qid!r} appears twice")
        self.query_runs[qid] = frozenset(runs)
        for run in sorted(runs):
            self.report.checks["beir_query_run_accepted"] += 1
            category = self.lookups.category(run)
            if category != "accepted":
                self.fail(where, f"run {run} is {category or 'not scored or not in the store'}, not accepted: "
                                 "only accepted runs' tasks are queries")
        self.provenance(where, meta["provenance"])
        for i, prov in enumerate(meta["provenance"]):
            found = self._of_run(prov, runs)
            if self.lookups.records(prov) and not found:
                self.fail(where, f"provenance[{i}]'s record belongs to none of the query's runs")
            elif found and not self._of_task(key, found):
                self.fail(where, f"provenance[{i}] (the query's text) is of another task than {key!r}")
            elif found:
                raw_key = next(f.task_key for f in found if f.task_key and self.lookups.resolve.matches(key, f.task_key))
                if qid != query_id(raw_key):
                    self.fail(where, f"query id {qid!r} is not the id of task {key!r}")

    def qrel(self, where: str, header: bool, raw: bytes) -> None:
        """A line of BEIR's qrels/test.tsv: the header, else a pair of a known query and a chunk of one of its runs."""
        if header:
            if raw != QRELS_HEADER:
                self.fail(where, f"the first line must be BEIR's header {QRELS_HEADER!r}, not {raw[:60]!r}")
            return
        cells = raw.rstrip(b"\n").decode("utf-8", "replace").split("\t")
        if len(cells) != 3 or not cells[2].isdigit() or int(cells[2]) < 1:
            self.fail(where, f"expected query-id<TAB>corpus-id<TAB>score (an integer >= 1), not {raw[:80]!r}")
            return
        qid, doc_id = cells[0], cells[1]
        self.report.checks["beir_qrels"] += 1
        if (qid, doc_id) in self.qrel_pairs:
            self.fail(where, f"the pair {qid} {doc_id} appears twice")
        self.qrel_pairs.add((qid, doc_id))
        runs, doc_runs = self.query_runs.get(qid), self.doc_runs.get(doc_id)
        if runs is None:
            self.fail(where, f"query {qid!r} is not in queries.jsonl")
        if doc_runs is None:
            self.fail(where, f"chunk {doc_id!r} is not in corpus.jsonl")
        if runs is not None and doc_runs is not None and not runs & doc_runs:
            self.fail(where, f"chunk {doc_id!r} comes from none of query {qid!r}'s runs")

    def rag(self, where: str, row: dict[str, Any], _: dict[str, Any]) -> None:
        if row["id"] in self.rag_ids:
            self.fail(where, f"chunk id {row['id']!r} appears twice")
        self.rag_ids.add(row["id"])
        runs = set(row["source_run_ids"])
        if not runs:
            self.fail(where, "no source run")
        for run in sorted(runs):
            self.report.checks["rag_run_accepted"] += 1
            category = self.lookups.category(run)
            if category != "accepted":
                self.fail(where, f"source run {run} is {category or 'not scored or not in the store'}, not accepted")
        self.provenance(where, row["provenance"])
        for i, prov in enumerate(row["provenance"]):
            if self.lookups.records(prov) and not self._of_run(prov, runs):
                self.fail(where, f"provenance[{i}]'s record belongs to none of the source runs")


def parse_row(report: ValidationReport, rel: str, model: type[BaseModel], n: int,
           raw: bytes) -> tuple[str, dict[str, Any]] | None:
    """(where, row) of a line that parses and passes its schema; else the error is reported."""
    where = f"{rel} line {n}"
    if not raw.strip():
        report.error(f"{where}: empty line")
        return None
    try:
        row = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        report.error(f"{where}: not JSON ({exc})")
        return None
    try:
        model.model_validate(row)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "row"
        report.error(f"{where}: schema {model.__name__}: {loc}: {first['msg']}")
        return None
    return where, row
