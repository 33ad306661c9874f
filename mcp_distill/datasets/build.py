"""Dataset Builder: scored runs -> RAG, SFT and preference JSONL a trainer can read as it is.

Files under ``out_dir`` (default ``exports/``): ``sft/train.jsonl``, ``sft/validation.jsonl``
(TRL conversational ``{"messages": [...], "metadata": {...}}``, which OpenAI chat fine-tuning also
reads), ``preference/train.jsonl``, ``preference/validation.jsonl`` (``{"prompt", "chosen",
"rejected", "metadata"}``), ``rag/chunks.jsonl`` and ``receipt.json``. Row building and the mining
rules are in :mod:`mcp_distill.datasets.mine`; the checks in :mod:`mcp_distill.datasets.validate`; the
file writing in :mod:`mcp_distill.datasets.io`.

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
* Streaming: runs are read in pages of :data:`RUN_PAGE` by key, rows are written as they come;
  cross-run pairs go through a scratch SQLite file sorted by task key. Memory grows only with the
  dedup indexes (kept rows).
* Deterministic: sorted iteration, split by hash of the task key, no clock in the data files, so
  two exports of the same store are byte-identical (``receipt.json`` differs).
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import tempfile
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from mcp_distill.collect import repository as collect_db
from mcp_distill.config import check_path_text
from mcp_distill.datasets import beir, mine
from mcp_distill.datasets.io import (
    TEMP_DIR_PREFIX,
    AtomicFile,
    Sink,
    remove_files,
    remove_stale_temps,
    unverified,
    write_atomic,
)
from mcp_distill.datasets.publish import published_receipt
from mcp_distill.datasets.repository import PairScratch
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
from mcp_distill.redact.aliases import Publisher
from mcp_distill.redact.edges import redaction_key
from mcp_distill.redact.paths import source_labels
from mcp_distill.redact.scrub import find_secrets, redact
from mcp_distill.search import repository as pb_db
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
#: Runs read per query (their evidence comes in one query per page).
RUN_PAGE = 500
#: Rows buffered per kind before dedup hashes them as one batch (DedupIndex.add_many is ~3x faster).
SINK_BATCH = 512
#: Validate in a child process while the export is written (a second core); False: in this process.
BACKGROUND_VALIDATION = True
#: Redacted texts remembered (texts with a secret are rare; clean ones are remembered by digest only).
REDACTED_MEMO = 10_000
#: Source runs of a playbook whose provenance a playbook chunk carries.
PLAYBOOK_PROVENANCE = 8

#: Why a candidate preference pair was not written (receipt ``details.preference_pairs_dropped``): the
#: counter's name (``pairs_dropped_<reason>`` for mine.pair_problem's reasons) and what it means.
PAIR_DROP_REASONS: dict[str, str] = {
    "one_source_line": "with chosen and rejected on one source line (such as a consensus record's two rationales)",
    "one_run_without_attempts": "from one run without two different attempts",
    "pairs_identical": "with the same text on both sides",
    "preference_equal_after_redaction": "equal once redacted",
    "pairs_no_prompt": "without a prompt record",
    "pairs_missing_record": "whose record is no longer in the store",
    "pairs_consensus_superseded": "of a vote a human override or review superseded",
    "pairs_consensus_incomplete": "of a vote without both rationales and a claim",
    "preference_duplicates_exact": "exact duplicates of a kept pair",
    "preference_duplicates_near": "near duplicates of a kept pair",
    "preference_schema_rejected": "refused by the PreferenceSample schema",
}


class Scrubber:
    """Redaction that scans each distinct text once: prompts and answers recur across the datasets.

    ``clean`` holds digests of texts in which find_secrets found nothing; the validator run by the
    export skips re-scanning exactly those texts (the same deterministic check, memoised).
    Placeholders are counted by type per occurrence written into a candidate row.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.clean: set[bytes] = set()
        self.fresh: list[bytes] = []  # clean digests not yet sent to a background validator
        self._redacted: OrderedDict[bytes, tuple[str, Counter[str]]] = OrderedDict()

    def __call__(self, text: str) -> str:
        key = mine.text_digest(text)
        if key in self.clean:
            return text
        hit = self._redacted.get(key)
        if hit is None:
            if not find_secrets(text):
                self.clean.add(key)
                self.fresh.append(key)
                return text
            hit = self._redacted[key] = redact(text)
            if len(self._redacted) > REDACTED_MEMO:
                self._redacted.popitem(last=False)
        self.counts.update(hit[1])
        return hit[0]

    def mark_clean(self, text: str) -> None:
        """``text`` holds no secret (an id the publisher scanned): the validator need not scan it again."""
        key = mine.text_digest(text)
        if key not in self.clean:
            self.clean.add(key)
            self.fresh.append(key)


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
        self.progress = progress
        self.receipt = ReceiptBuilder("export", command)
        self.scrub = Scrubber()
        # ids and paths as they leave the store; the aliases back to the raw values go to the validator only
        self.ids = Publisher(redaction_key(store), source_labels(collect_db.source_files(store)), on_new=self.scrub.mark_clean)
        self.canon = mine.TextCanon()
        self.stats: Counter[str] = Counter()
        self.scorer_versions: set[str] = set()
        self.source_files: set[str] = set()
        self.targets: dict[str, AtomicFile] = {}
        self.sinks: dict[str, Sink] = {}
        self.validator: StreamValidator | BackgroundValidator | None = None
        self.beir = beir.BeirBuilder(self.stats) if rag_format == "beir" and "rag" in kinds else None
        self.replaced: list[str] = []  # the other RAG layout's files, removed when this export commits

    def feed(self, rel: str, lines: list[bytes]) -> None:
        if isinstance(self.validator, BackgroundValidator):
            self.validator.add_clean(self.scrub.fresh)  # before the lines whose texts they cover
        assert self.validator is not None
        self.validator.add_aliases(self.ids.take_fresh())
        self.scrub.fresh = []
        assert self.validator is not None
        self.validator.feed(rel, lines)

    # -- reading ------------------------------------------------------------------------------

    def _categories(self) -> tuple[str, ...]:
        if "preference" in self.kinds:
            return ("accepted", "partially_accepted", "rejected")
        return ("accepted",)

    def iter_runs(self) -> Iterator[mine.RunView]:
        """Scored runs of the needed categories, by run key, a page at a time, with their records."""
        cats = self._categories()
        total = collect_db.count_scored(self.store, cats)
        done, last = 0, ""
        while True:
            page = collect_db.scored_page(self.store, cats, last, RUN_PAGE)
            if not page:
                break
            last = page[-1]["run_key"]
            by_run: dict[str, list[mine.Rec]] = {r["run_key"]: [] for r in page}
            rows = collect_db.records_of_runs(self.store, list(by_run))
            for run_key, epoch, data in rows:
                rec = orjson.loads(data)
                rec["_epoch"] = epoch
                by_run[run_key].append(rec)
            self.receipt.count_in += len(rows)
            for r in page:
                self.scorer_versions.add(r["scorer_version"])
                yield mine.RunView(r["run_key"], r["category"], r["scorer_version"], by_run[r["run_key"]])
            done += len(page)
            if self.progress:
                self.progress(done, total, "runs")

    def _records_by_id(self, ids: list[str]) -> dict[str, mine.Rec]:
        return {rid: orjson.loads(data) for rid, data in collect_db.records_by_id(self.store, ids).items()}

    # -- the passes ---------------------------------------------------------------------------

    def emit(self, kind: str, cand: mine.Candidate) -> None:
        if kind == "preference" and (why := mine.pair_problem(cand.row)):
            self.stats[f"pairs_dropped_{why}"] += 1
            return
        for prov in cand.row.get("metadata", {}).get("provenance", cand.row.get("provenance", [])):
            self.source_files.add(prov["source_file"])
        self.sinks[kind].add(cand)

    def scan(self, scratch: PairScratch) -> None:
        """Pass 1: SFT rows, RAG chunks, within-run pairs; cross-run candidates into ``scratch``."""
        pending: list[tuple[Any, ...]] = []
        for view in self.iter_runs():
            self.stats["runs_scanned"] += 1
            if "sft" in self.kinds and view.category == "accepted":
                cand, why = mine.sft_row(view)
                if cand is not None:
                    self.emit("sft", cand)
                else:
                    self.stats[f"sft_skipped_{why}"] += 1
            if self.beir is not None:
                self.beir.add_run(view)
            if "rag" in self.kinds:
                for cand in mine.evidence_chunks(view):
                    self.emit("rag", cand)
            if "preference" in self.kinds:
                for cand in mine.attempt_pairs(view):
                    self.stats["pairs_attempts_within_run"] += 1
                    self.emit("preference", cand)
                for cand, why in mine.consensus_pairs(view):
                    if cand is None:
                        self.stats[f"pairs_{why}"] += 1
                    else:
                        self.stats["pairs_consensus"] += 1
                        self.emit("preference", cand)
                key = view.task_key
                if view.category in ("accepted", "rejected") and view.output is not None and key is not None:
                    input_rec = view.input_record()
                    pending.append((key, view.category, view.run_key, int(view.overridden),
                                    view.output["record_id"], input_rec["record_id"] if input_rec else None,
                                    view.scorer_version))
                    if len(pending) >= RUN_PAGE:
                        scratch.add(pending)
                        pending = []
        if pending:
            scratch.add(pending)

    def cross_runs(self, scratch: PairScratch) -> None:
        """Pass 2: accepted vs rejected runs of one task (rule 2), a task at a time."""
        for key, group in itertools.groupby(scratch.by_task(), key=lambda row: row[0]):
            rows = list(group)
            if len(rows) > 4 * mine.MAX_PAIRS_PER_TASK:  # only the first runs of each side can be paired
                acc = [r for r in rows if r[1] == "accepted"][:mine.MAX_PAIRS_PER_TASK]
                rej = [r for r in rows if r[1] == "rejected"][:mine.MAX_PAIRS_PER_TASK]
                rows = acc + rej
            by_run = {r[2]: r for r in rows}
            pairs = mine.cross_run_pairs([r[2] for r in rows if r[1] == "accepted"],
                                         [r[2] for r in rows if r[1] == "rejected"])
            if not pairs:
                continue
            ids = sorted({rid for a, b in pairs for rid in (by_run[a][4], by_run[a][5], by_run[b][4]) if rid})
            recs = self._records_by_id(ids)
            for a, b in pairs:
                ra, rb = by_run[a], by_run[b]
                chosen, rejected, input_rec = recs.get(ra[4]), recs.get(rb[4]), recs.get(ra[5] or "")
                if chosen is None or rejected is None or input_rec is None:
                    self.stats["pairs_no_prompt" if ra[5] is None else "pairs_missing_record"] += 1
                    continue
                if not mine.differ(chosen["output_text"], rejected["output_text"]):
                    self.stats["pairs_identical"] += 1
                    continue
                source = "override" if ra[3] or rb[3] else "attempts"
                extra = [mine.provenance(input_rec)] if input_rec["record_id"] != chosen["record_id"] else None
                self.stats[f"pairs_{source}_across_runs"] += 1
                self.emit("preference", mine.pref_row(mine.user_turn(input_rec, chosen), chosen, rejected, source,
                                                      key, a, b, ra[6], extra_prov=extra))

    def playbooks(self) -> None:
        """Playbook chunks, when the playbooks table exists (only their accepted source runs count)."""
        last = ""
        if pb_db.playbook_data_page(self.store, last, 1) is None:
            self.stats["playbooks_table_absent"] = 1
            return
        while page := pb_db.playbook_data_page(self.store, last, RUN_PAGE):
            last = page[-1]["playbook_id"]
            for row in page:
                try:
                    self._playbook(orjson.loads(row["data"]))
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    self.stats["playbooks_unreadable"] += 1

    def _playbook(self, pb: dict[str, Any]) -> None:
        """One playbook's chunks, carrying its accepted source runs and their output records' provenance."""
        runs: list[str] = []
        provs: list[dict[str, Any]] = []
        for run in sorted(str(x) for x in pb.get("source_run_ids") or []):
            for key in (run, f"run:{run}"):  # run keys, or bare run ids
                if collect_db.category_of(self.store, key) == "accepted":
                    runs.append(key)
                    break
        for key in runs[:PLAYBOOK_PROVENANCE]:
            recs = [orjson.loads(data) | {"_epoch": epoch} for _, epoch, data in collect_db.records_of_runs(self.store, [key])]
            if recs:
                view = mine.RunView(key, "accepted", "", recs)
                provs.append(mine.provenance(view.output or recs[0]))
        if not runs or not provs:
            self.stats["playbooks_without_accepted_runs"] += 1
            return
        self.stats["playbooks"] += 1
        for cand in mine.playbook_chunks(pb, runs, provs):
            self.emit("rag", cand)

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
                    self.scan(scratch)
                    if "preference" in self.kinds:
                        self.cross_runs(scratch)
                finally:
                    scratch.close()
            if "rag" in self.kinds:
                self.playbooks()
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
            "scorer_version": sorted(self.scorer_versions)[0] if len(self.scorer_versions) == 1 else None,
            "scorer_versions": sorted(self.scorer_versions),
            "redactions": dict(sorted(self.redactions().items())),
            "duplicates": {k: v for k, v in sorted(self.stats.items()) if "_duplicates_" in k},
            "preference_pairs_dropped": self._pairs_dropped(),
            "source_files": sorted(self.source_files),
        })
        for kind in self.kinds:
            if not self.stats[f"{kind}_rows"]:
                r.warnings.append(f"{kind}: no rows written (no scored run gave one; see the counts for why)")
        if dropped := self._pairs_dropped():
            r.warnings.append(f"preference: {sum(dropped.values())} candidate pair(s) dropped: " + "; ".join(
                f"{n} {PAIR_DROP_REASONS[why]}" for why, n in dropped.items()))
        if len(self.scorer_versions) > 1:
            r.warnings.append(f"runs were scored by {len(self.scorer_versions)} rule versions; "
                              "re-score with `mcp-distill score --rescore` for one consistent set")
        unscored = collect_db.unscored_count(self.store)
        if unscored:
            r.warnings.append(f"{unscored} run(s) are not scored and were left out; run `mcp-distill score` first")
        # The inputs are the source files the rows trace to. Never the store file itself: opening and
        # closing a second descriptor of a live SQLite file drops this process's POSIX locks on it.
        for name in sorted(self.source_files):
            if Path(name).is_file():
                r.add_input(name)

    def _pairs_dropped(self) -> dict[str, int]:
        """Candidate preference pairs not written, by reason (:data:`PAIR_DROP_REASONS`)."""
        return {why: self.stats[stat] for why, stat in
                ((why, f"pairs_dropped_{why}" if why in mine.PAIR_PROBLEMS else why) for why in PAIR_DROP_REASONS)
                if self.stats[stat]}

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
            "scorer_versions": sorted(self.scorer_versions),
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
