"""Dataset Builder: scored runs -> RAG, SFT and preference JSONL a trainer can read as it is.

Files under ``out_dir`` (default ``exports/``): ``sft/train.jsonl``, ``sft/validation.jsonl``
(TRL conversational ``{"messages": [...], "metadata": {...}}``, which OpenAI chat fine-tuning also
reads), ``preference/train.jsonl``, ``preference/validation.jsonl`` (``{"prompt", "chosen",
"rejected", "metadata"}``), ``rag/chunks.jsonl`` and ``receipt.json``. This module runs one export and
writes its receipt. The store is read pass by pass in :mod:`mcp_distill.datasets.passes`; rows are mined
from a run in :mod:`~mcp_distill.datasets.mine` (task keys, splits, the output record) and its
siblings :mod:`~mcp_distill.datasets.sft`, :mod:`~mcp_distill.datasets.preference` and
:mod:`~mcp_distill.datasets.rag`; redacted in :mod:`~mcp_distill.datasets.scrubber`, deduplicated in
:mod:`~mcp_distill.datasets.dedup`, written in :mod:`~mcp_distill.datasets.io` and checked by
:mod:`~mcp_distill.datasets.validate`.

Guarantees, and how they are kept:

* Only accepted runs feed SFT and RAG; the validator re-reads every run's category from the store.
* Redaction before anything is written: every content field goes through
  :func:`mcp_distill.redact.scrub.redact` (each distinct text is scanned once); the receipt counts
  placeholders by type.
* Exact and near duplicates (:class:`mcp_distill.datasets.neardup.DedupIndex`) are dropped and counted. A
  row is a duplicate when *each* of its texts (SFT: user, assistant; preference: prompt, chosen,
  rejected; RAG: text) repeats the same earlier kept row's, so a long shared prompt cannot make
  two different answers look alike.
* Validated: every line written is also fed to the validator (:mod:`mcp_distill.datasets.validate`),
  in a second process with a read-only store connection when the store is a file, so checking
  overlaps with writing; the sha256 of the bytes it checked must equal the file's. Any error fails
  the export.
* Atomic: every file is written to a temporary file in its own folder
  (:mod:`mcp_distill.datasets.io`); only when all are written and validated are they moved into
  place with ``os.replace``, then ``receipt.json``. An interrupted or invalid export leaves the
  previous export as it was.
* Streaming: runs are read in pages of :data:`mcp_distill.datasets.passes.RUN_PAGE` by key, rows are written as they come;
  cross-run pairs go through a scratch SQLite file sorted by task key. Memory grows only with the
  dedup indexes (kept rows).
* Deterministic: sorted iteration, split by hash of the task key, no clock in the data files, so
  two exports of the same store are byte-identical (``receipt.json`` differs).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mcp_distill.collect import repository as collect_db
from mcp_distill.config import check_path_text
from mcp_distill.datasets import beir, dedup, mine, preference
from mcp_distill.datasets.io import (
    TEMP_DIR_PREFIX,
    AtomicFile,
    Sink,
    remove_files,
    remove_stale_temps,
    unverified,
    write_atomic,
)
from mcp_distill.datasets.passes import RunPasses
from mcp_distill.datasets.publish import published_receipt
from mcp_distill.datasets.repository import PairScratch
from mcp_distill.datasets.scrubber import Scrubber
from mcp_distill.datasets.validate import (
    BackgroundValidator,
    StreamValidator,
    ValidationReport,
    validate_export,
)
from mcp_distill.errors import InvalidInputError, ValidationFailedError
from mcp_distill.faults import file_fault, store_fault
from mcp_distill.models import BeirDoc, PreferenceSample, RagSample, SftSample
from mcp_distill.progress import Progress
from mcp_distill.receipts import ReceiptBuilder
from mcp_distill.redact import Publisher, redaction_key, source_labels
from mcp_distill.store import Store

KINDS = ("rag", "sft", "preference", "all")
#: Layouts of the RAG export: ``chunks`` (rag/chunks.jsonl) or ``beir`` (corpus, queries, qrels; see datasets/beir.py).
RAG_FORMATS = ("chunks", "beir")
DEFAULT_OUT_DIR = Path("exports")
#: Relative file of each (kind, split); RAG chunks have no split.
FILES: dict[str, tuple[str, ...]] = {
    "sft": ("sft/train.jsonl", "sft/validation.jsonl"),
    "preference": ("preference/train.jsonl", "preference/validation.jsonl"),
    "rag": ("rag/chunks.jsonl",),
}
#: Files written even with 0 rows: the one file of a RAG export, so a consumer finds it.
ALWAYS_WRITTEN = ("rag/chunks.jsonl", beir.CORPUS)
MODELS: dict[str, type[BaseModel]] = {"sft": SftSample, "preference": PreferenceSample, "rag": RagSample}
#: Rows buffered per kind before dedup hashes them as one batch (DedupIndex.add_many is ~3x faster).
SINK_BATCH = 512
#: Validate in a child process while the export is written (a second core); False: in this process.
BACKGROUND_VALIDATION = True

def _kinds(kind: str) -> list[str]:
    if kind not in KINDS:
        raise InvalidInputError(f"unknown export kind {kind!r}; use one of {', '.join(KINDS)}")
    return ["sft", "preference", "rag"] if kind == "all" else [kind]


class Exporter:
    """One export run; :func:`export_dataset` is the public face."""

    def __init__(self, store: Store, kinds: list[str], out: Path, progress: Progress | None, command: str,
                 rag_format: str = "chunks"):
        self.store = store
        self.kinds = kinds
        self.rag_format = rag_format
        self.out = out
        self.receipt = ReceiptBuilder("export", command)
        self.scrub = Scrubber()
        # ids and paths as they leave the store; the aliases back to the raw values go to the validator only
        self.ids = Publisher(redaction_key(store), source_labels(collect_db.source_files(store)), on_new=self.scrub.mark_clean)
        self.canon = dedup.TextCanon()
        self.stats: Counter[str] = Counter()
        self.source_files: set[str] = set()
        self.targets: dict[str, AtomicFile] = {}
        self.sinks: dict[str, Sink] = {}
        self.validator: StreamValidator | BackgroundValidator | None = None
        self.beir = beir.BeirBuilder(self.stats) if rag_format == "beir" and "rag" in kinds else None
        self.replaced: list[str] = []  # the other RAG layout's files, removed when this export commits
        self.passes = RunPasses(store, kinds, self.stats, self.emit, self.beir, progress)

    def feed(self, rel: str, lines: list[bytes]) -> None:
        if isinstance(self.validator, BackgroundValidator):
            self.validator.add_clean(self.scrub.fresh)  # before the lines whose texts they cover
        assert self.validator is not None
        self.validator.add_aliases(self.ids.take_fresh())
        self.scrub.fresh = []
        assert self.validator is not None
        self.validator.feed(rel, lines)

    def emit(self, kind: str, cand: mine.Candidate) -> None:
        if kind == "preference" and (why := preference.pair_problem(cand.row)):
            self.stats[f"pairs_dropped_{why}"] += 1
            return
        for prov in cand.row.get("metadata", {}).get("provenance", cand.row.get("provenance", [])):
            self.source_files.add(prov["source_file"])
        self.sinks[kind].add(cand)

    # -- orchestration ------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        if self.out.exists() and not self.out.is_dir():
            raise InvalidInputError(f"{self.out} is a file; give a folder for the export")
        self.out.mkdir(parents=True, exist_ok=True)
        stale = remove_stale_temps(self.out, {str(Path(rel).parent) for rel in (*ALWAYS_WRITTEN, *beir.FILES,
                                                                                 *(r for rs in FILES.values() for r in rs))})
        if stale:
            self.receipt.count("stale_temp_files_removed", len(stale))
            self.receipt.warnings.append(f"removed {len(stale)} temporary file(s) a killed export left: "
                                         f"{', '.join(stale[:5])}")
        try:
            self.validator = self._start_validator()
            for kind in self.kinds:
                self._open(kind)
            for rel in sorted(self.targets):
                self.feed(rel, [])
            with tempfile.TemporaryDirectory(prefix=f"{TEMP_DIR_PREFIX}{os.getpid()}-", dir=self.out) as tmp:
                scratch = PairScratch(Path(tmp) / "pairs.db")
                try:
                    self.passes.scan(scratch)
                    if "preference" in self.kinds:
                        self.passes.cross_runs(scratch)
                finally:
                    scratch.close()
            if "rag" in self.kinds:
                self.passes.playbooks()
            self.receipt.count_in = self.passes.records_read
            for sink in self.sinks.values():
                sink.flush()
            if self.beir is not None:
                self.beir.write(self.targets[beir.QUERIES], self.targets[beir.QRELS], self.scrub, self.ids, self.feed)
            for target in self.targets.values():
                target.close()
            report, hashes = self.validator.finish()
            for rel in unverified(self.targets, hashes):
                report.error(f"{rel}: the bytes validated are not the bytes written")
            if not report.ok:
                return self._fail(report)
            self._drop_empty_files()
            for target in self.targets.values():
                target.commit()
            remove_files(self.out, self.replaced)
        except BaseException:
            if isinstance(self.validator, BackgroundValidator):
                self.validator.close()
            for target in self.targets.values():
                target.abort()
            raise
        return self._finish(report, started)

    def redactions(self) -> Counter[str]:
        """Placeholders written, by type: in text and in ids."""
        return self.scrub.counts + self.ids.counts

    def _open(self, kind: str) -> None:
        """The files of ``kind`` (in the RAG format asked for) and its sink."""
        if kind == "rag" and self.beir is not None:
            files, model, on_row = (beir.CORPUS,), BeirDoc, self.beir.on_doc
            self.targets.update({rel: AtomicFile(self.out / rel, rel, self.out) for rel in (beir.QUERIES, beir.QRELS)})
            self.replaced += FILES["rag"]
        else:
            files, model, on_row = FILES[kind], MODELS[kind], None
            if kind == "rag":
                self.replaced += beir.FILES
        splits = ("train",) if kind == "rag" else ("train", "validation")
        per_kind = {split: AtomicFile(self.out / rel, rel, self.out) for split, rel in zip(splits, files, strict=True)}
        self.targets.update({rel: per_kind[s] for s, rel in zip(splits, files, strict=True)})
        self.sinks[kind] = Sink(kind, per_kind, self.scrub, self.canon, self.stats, self.receipt.warnings, self.feed,
                                model, SINK_BATCH, self.ids, reshape=beir.as_doc if on_row else None, on_row=on_row)

    def _drop_empty_files(self) -> None:
        """A split file with 0 rows is not written (datasets.load_dataset fails on an empty split); the receipt
        says so. RAG chunks have no split: their one file is always written, so a consumer finds it."""
        for rel, target in sorted(self.targets.items()):
            if target.rows == 0 and rel not in ALWAYS_WRITTEN:
                target.discard()
                del self.targets[rel]
                self.receipt.count(rel, 0)
                self.receipt.count("empty_files_skipped", 1)
                self.receipt.warnings.append(f"{rel}: 0 rows, so the file is not written (an empty split breaks "
                                             "datasets.load_dataset); no row of this kind fell in this split")
        if self.beir is not None and (beir.QUERIES not in self.targets or beir.QRELS not in self.targets):
            for rel in (beir.QUERIES, beir.QRELS):  # BEIR's loader needs both or neither
                if rel in self.targets:
                    self.targets.pop(rel).discard()

    def _start_validator(self) -> StreamValidator | BackgroundValidator:
        """In a second process when the store is a file (it overlaps with writing), else in this one."""
        if BACKGROUND_VALIDATION and isinstance(self.store.path, Path) and self.store.path.is_file():
            return BackgroundValidator(self.store.path)
        return StreamValidator(self.store, self.scrub.clean, str(self.out))

    def _record_counts(self) -> None:
        r = self.receipt
        for rel, target in sorted(self.targets.items()):
            r.count(rel, target.rows)
        r.count_out = sum(t.rows for t in self.targets.values())
        for key, n in sorted(self.stats.items()):
            r.count(key, n)
        for kind, n in sorted(self.redactions().items()):
            r.count(f"redacted_{kind}", n)
        r.details.update({
            "kinds": self.kinds, "out_dir": str(self.out.resolve()), "rag_format": self.rag_format,
            "validation_fraction": mine.VALIDATION_FRACTION,
            "scorer_version": sorted(self.passes.scorer_versions)[0] if len(self.passes.scorer_versions) == 1 else None,
            "scorer_versions": sorted(self.passes.scorer_versions),
            "redactions": dict(sorted(self.redactions().items())),
            "duplicates": {k: v for k, v in sorted(self.stats.items()) if "_duplicates_" in k},
            "preference_pairs_dropped": preference.pairs_dropped(self.stats),
            "source_files": sorted(self.source_files),
        })
        for kind in self.kinds:
            if not self.stats[f"{kind}_rows"]:
                r.warnings.append(f"{kind}: no rows written (no scored run gave one; see the counts for why)")
        if dropped := preference.pairs_dropped(self.stats):
            r.warnings.append(f"preference: {sum(dropped.values())} candidate pair(s) dropped: " + "; ".join(
                f"{n} {preference.PAIR_DROP_REASONS[why]}" for why, n in dropped.items()))
        if len(self.passes.scorer_versions) > 1:
            r.warnings.append(f"runs were scored by {len(self.passes.scorer_versions)} rule versions; "
                              "re-score with `mcp-distill score --rescore` for one consistent set")
        unscored = collect_db.unscored_count(self.store)
        if unscored:
            r.warnings.append(f"{unscored} run(s) are not scored and were left out; run `mcp-distill score` first")
        # The inputs are the source files the rows trace to. Never the store file itself: opening and
        # closing a second descriptor of a live SQLite file drops this process's POSIX locks on it.
        for name in sorted(self.source_files):
            if Path(name).is_file():
                r.add_input(name)

    def _fail(self, report: ValidationReport) -> dict[str, Any]:
        for target in self.targets.values():
            target.abort()
        self._record_counts()
        self.receipt.errors.extend(report.errors)
        self.receipt.details["validation"] = report.summary()
        receipt = self.receipt.finish(self.store, validation_pass=False)
        failed = (f"the export failed its validator ({report.error_count} problem(s); first: {report.errors[0]}); "
                  f"nothing was replaced in {self.out}. Details in receipt {receipt.receipt_id}")
        fix = "; fix the store (re-collect or re-score) and export again"
        raise ValidationFailedError(f"{failed} (distill://receipts/{receipt.receipt_id}){fix}",
                                    cli=f"{failed} (`mcp-distill receipts show {receipt.receipt_id}`){fix}")

    def _finish(self, report: ValidationReport, started: float) -> dict[str, Any]:
        self._record_counts()
        for rel in sorted(self.targets):
            self.receipt.add_output(self.out / rel)
        self.receipt.details["validation"] = report.summary()
        receipt = self.receipt.finish(self.store, validation_pass=report.ok)
        write_atomic(self.out / "receipt.json", published_receipt(self.store, receipt, self.out, self.ids))
        digests = {rel: d.sha256 for rel, d in zip(sorted(self.targets), receipt.output_files, strict=True)}
        return {
            "kind": self.kinds[0] if len(self.kinds) == 1 else "all",
            "out_dir": str(self.out),
            "files": {rel: {"path": str(self.out / rel), "rows": t.rows, "sha256": digests.get(rel)}
                      for rel, t in sorted(self.targets.items())},
            "counts": {k: v for k, v in sorted(self.stats.items())},
            "redactions": dict(sorted(self.redactions().items())),
            "records_read": self.receipt.count_in,
            "rows_written": self.receipt.count_out,
            "scorer_versions": sorted(self.passes.scorer_versions),
            "receipt_id": receipt.receipt_id,
            "receipt_path": str(self.out / "receipt.json"),
            "validation": report.summary(),
            "warnings": list(self.receipt.warnings),
            "duration_s": round(time.perf_counter() - started, 3),
        }


def export_dataset(store: Store, kind: str = "all", out_dir: str | os.PathLike[str] | None = None,
                   progress: Progress | None = None, command: str = "export",
                   rag_format: str = "chunks") -> dict[str, Any]:
    """Export ``kind`` ("rag" | "sft" | "preference" | "all") under ``out_dir`` (default ``exports/``).

    ``rag_format``: ``chunks`` (rag/chunks.jsonl) or ``beir`` (rag/corpus.jsonl, rag/queries.jsonl,
    rag/qrels/test.tsv: BEIR's layout, see :mod:`mcp_distill.datasets.beir`). Returns counts per file,
    the files, the receipt id and the validation summary. Raises InvalidInputError for a bad kind,
    format or folder, ValidationFailedError when the result fails its validator (the previous export
    is then left in place).
    """
    kinds = _kinds(kind)
    if rag_format not in RAG_FORMATS:
        raise InvalidInputError(f"unknown RAG format {rag_format!r}; use one of {', '.join(RAG_FORMATS)}")
    out = Path(out_dir) if out_dir is not None else DEFAULT_OUT_DIR
    check_path_text(out)
    try:
        return Exporter(store, kinds, out, progress, command, rag_format).run()
    except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
        raise InvalidInputError(f"cannot write the export under {out}: {exc.strerror or exc} ({exc.filename}); "
                                "choose another folder or remove what is in the way") from exc
    except (OSError, sqlite3.DatabaseError) as exc:  # a full, read-only or failing disk under out_dir
        fault = (file_fault(exc, out, "write the export", _AFTER_FAULT)
                 or store_fault(exc, f"the export's scratch file under {out}", _AFTER_FAULT))
        if fault is None:
            raise
        raise fault from exc


#: What a user does after a disk fault during an export (the files are only replaced once all are written).
_AFTER_FAULT = ("free space or choose a writable folder with --out / out_dir, then export again; "
                "the previous export there is unchanged")


__all__ = ["DEFAULT_OUT_DIR", "FILES", "KINDS", "RAG_FORMATS", "AtomicFile", "Sink", "ValidationReport", "export_dataset",
           "validate_export", "write_atomic"]
