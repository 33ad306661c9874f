"""The export validator, run at the end of every export and by ``mcp-distill validate``.

It trusts nothing the exporter decided; every fact is read again from the store and the sources:

* **schema**: each row validates against SftSample / PreferenceSample / RagSample, and its
  ``split`` is the split of the file it is in; RAG ids are unique.
* **SFT**: the row's run is ``accepted`` in the store, the records its provenance points at
  belong to that run, and the prompt's record has the answer's task key.
* **preference**: chosen and rejected differ after normalisation; the records behind
  ``provenance[0]`` (chosen) and ``provenance[1]`` (rejected) belong to the named runs and both
  have the row's task key; they are two different source lines; across runs the chosen run is
  accepted and the rejected run rejected; within one run only an ``attempts`` pair of two different
  attempts, whose records carry those attempt numbers (``extra.attempt``), in a run accepted or
  partially accepted; the prompt's record (``provenance[2:]``) is the chosen run's, same task.
* **RAG**: every source run is accepted and the chunk's records belong to one of them.
* **split**: ``split == split_for(task key)``, so one task is never in both splits.
* **provenance**: the source file exists; for line files the line at ``line_offset`` starts a
  line, parses, and its ``sig_hash`` (its own field when it is a string of >= 8 characters, else
  the sha256 of its canonical JSON) matches; for whole documents (.json/.traj/.yaml) the offset
  lies inside the file. The store holds an evidence record for that (file, offset, sig_hash).
* **secrets**: no string of a row (text, ids, metadata, provenance) contains anything
  :func:`mcp_distill.redact.scrub.find_secrets` finds.
* **published ids**: ids and paths are compared with the raw store through the exporter's alias map
  or, for ``mcp-distill validate``, the store itself (:class:`mcp_distill.datasets.lookups.Resolver`).
* **receipt** (``validate_export`` only): files listed in ``receipt.json`` still have its sha256.

The row-level checks live in :mod:`mcp_distill.datasets.checks` (store lookups in
:mod:`mcp_distill.datasets.lookups`); this module streams files through
them and holds the public API. During an export the same checks run in a child process
(:class:`BackgroundValidator`, read-only store connection) fed with every line as it is written; texts
the redaction pass already scanned clean are not scanned twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import pickle
import queue
import subprocess
import sys
import threading
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mcp_distill.datasets.checks import RowValidator, parse_row
from mcp_distill.errors import InvalidInputError, ValidationFailedError
from mcp_distill.models import BeirDoc, BeirQuery, PreferenceSample, RagSample, Receipt, SftSample
from mcp_distill.receipts import sha256_file
from mcp_distill.store import ReadOnlyStore, Store

#: Export files by relative path: (kind, split); RAG chunks have no split.
FILE_KINDS: dict[str, tuple[str, str | None]] = {
    "sft/train.jsonl": ("sft", "train"),
    "sft/validation.jsonl": ("sft", "validation"),
    "preference/train.jsonl": ("preference", "train"),
    "preference/validation.jsonl": ("preference", "validation"),
    "rag/chunks.jsonl": ("rag", None),
    # BEIR's layout (datasets/beir.py), checked in this order: qrels name the corpus' and the queries' ids
    "rag/corpus.jsonl": ("beir_corpus", None),
    "rag/queries.jsonl": ("beir_queries", None),
    "rag/qrels/test.tsv": ("beir_qrels", None),
}
_MODELS: dict[str, type[BaseModel]] = {"sft": SftSample, "preference": PreferenceSample, "rag": RagSample,
                                       "beir_corpus": BeirDoc, "beir_queries": BeirQuery}
#: Error messages kept in a report (all are counted).
MAX_ERRORS = 50
#: Batches of lines that may wait for the background validator (bounded memory, no stalls).
_QUEUED_BATCHES = 32
#: The child's program. It imports this module rather than running it as ``__main__`` (``-m``): pickled
#: classes then resolve to ``mcp_distill.datasets.validate`` in both processes, and the package's
#: ``__init__``, which imports this module, never makes runpy import it twice.
CHILD_CODE = "from mcp_distill.datasets.validate import child_main; child_main()"
#: Rows read, parsed and checked together (their store lookups are batched).
_ROW_BATCH = 1000


@dataclass
class ValidationReport:
    """What the validator checked and what it found; ``ok`` when nothing was wrong."""

    out_dir: str
    files: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    checks: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def rows(self) -> int:
        return sum(self.files.values())

    def error(self, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(message)

    def summary(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": self.rows, "files": dict(self.files), "error_count": self.error_count,
                "errors": list(self.errors), "checks": dict(sorted(self.checks.items()))}




class StreamValidator:
    """Validates export lines as they are fed, file by file, in order; :meth:`finish` gives the report
    and the sha256 of the bytes validated per file (to prove they are the bytes on disk)."""

    def __init__(self, store: Store | ReadOnlyStore, known_clean: set[bytes] | None = None, out_dir: str = ""):
        self.report = ValidationReport(out_dir)
        self.known_clean = known_clean
        self.rows = RowValidator(store, self.report, known_clean)
        self._lines: dict[str, int] = {}
        self._hashes: dict[str, Any] = {}

    def add_clean(self, digests: list[bytes]) -> None:
        if self.known_clean is not None:
            self.known_clean.update(digests)

    def add_aliases(self, aliases: dict[str, str]) -> None:
        """Published id or path -> raw value, from the exporter (kept in memory only)."""
        self.rows.lookups.resolve.aliases.update(aliases)

    def feed(self, rel: str, lines: list[bytes]) -> None:
        if rel not in FILE_KINDS:
            raise InvalidInputError(f"{rel} is not an export file; expected one of {', '.join(FILE_KINDS)}")
        if rel not in self._hashes:
            self._hashes[rel], self._lines[rel], self.report.files[rel] = hashlib.sha256(), 0, 0
        kind, split = FILE_KINDS[rel]
        if kind == "beir_qrels":
            for raw in lines:
                self._hashes[rel].update(raw)
                self._lines[rel] += 1
                self.report.files[rel] += 1 if self._lines[rel] > 1 and raw.strip() else 0
                self.rows.qrel(f"{rel} line {self._lines[rel]}", self._lines[rel] == 1, raw)
            return
        model = _MODELS[kind]
        for i in range(0, len(lines), _ROW_BATCH):
            parsed = []
            for raw in lines[i:i + _ROW_BATCH]:
                self._hashes[rel].update(raw)
                self._lines[rel] += 1
                self.report.files[rel] += 1 if raw.strip() else 0
                if (row := parse_row(self.report, rel, model, self._lines[rel], raw)) is not None:
                    parsed.append(row)
            self.rows.prefetch(kind, [row for _, row in parsed])
            for where, row in parsed:
                self.rows.row(kind, split, where, row)

    def finish(self) -> tuple[ValidationReport, dict[str, str]]:
        self.rows.lookups.close()
        return self.report, {rel: h.hexdigest() for rel, h in self._hashes.items()}


def child_main() -> None:
    """``python -c "<CHILD_CODE>" DB``: the process behind :class:`BackgroundValidator`.

    Reads pickled messages from stdin, writes one pickled result to stdout. A plain subprocess (not
    multiprocessing) so a caller's ``__main__`` is never re-imported and no SQLite handle is inherited.
    """
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    try:
        store = ReadOnlyStore(sys.argv[1])
        validator = StreamValidator(store, set())
        while (msg := pickle.load(source))[0] != "done":  # EOFError: the parent gave up (its export failed)
            if msg[0] == "clean":
                validator.add_clean(msg[1])
            elif msg[0] == "aliases":
                validator.add_aliases(msg[1])
            else:
                validator.feed(msg[1], msg[2])
        result: tuple[Any, ...] = ("ok", *validator.finish())
        store.close()
    except (EOFError, BrokenPipeError):
        return
    except BaseException:
        result = ("error", traceback.format_exc())
        with contextlib.suppress(EOFError, OSError, pickle.UnpicklingError):
            while pickle.load(source)[0] != "done":  # drain, so the parent never blocks on a full pipe
                pass
    pickle.dump(result, sink, protocol=pickle.HIGHEST_PROTOCOL)
    sink.flush()


class BackgroundValidator:
    """A :class:`StreamValidator` in a child process with its own (read-only) store connection, fed
    through a pipe by a pump thread, so checking an export overlaps with writing it (a second core)
    and the exporter never waits on the pipe (at most :data:`_QUEUED_BATCHES` batches wait in memory)."""

    def __init__(self, db_path: str | Path):
        package_root = str(Path(__file__).resolve().parents[2])
        env = os.environ | {"PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)}
        self._proc = subprocess.Popen([sys.executable, "-c", CHILD_CODE, str(db_path)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self._queue: queue.Queue[tuple[Any, ...] | None] = queue.Queue(maxsize=_QUEUED_BATCHES)
        self._broken = False
        self._pump_thread = threading.Thread(target=self._pump, name="export-validator-pipe", daemon=True)
        self._pump_thread.start()

    def _pump(self) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        while (msg := self._queue.get()) is not None:
            if self._broken:
                continue  # keep draining so the exporter never blocks on a full queue
            try:
                pickle.dump(msg, stdin, protocol=pickle.HIGHEST_PROTOCOL)
                stdin.flush()
            except (OSError, ValueError):  # the child is gone (broken pipe) or its pipe was closed
                self._broken = True
        with contextlib.suppress(OSError):
            stdin.close()

    def _died(self) -> ValidationFailedError:
        return ValidationFailedError("the validator process died; run `mcp-distill validate DIR` to see why")

    def _send(self, msg: tuple[Any, ...]) -> None:
        if self._broken:
            raise self._died()
        self._queue.put(msg)

    def add_clean(self, digests: list[bytes]) -> None:
        if digests:
            self._send(("clean", digests))

    def add_aliases(self, aliases: dict[str, str]) -> None:
        if aliases:
            self._send(("aliases", aliases))

    def feed(self, rel: str, lines: list[bytes]) -> None:
        self._send(("lines", rel, lines))

    def finish(self) -> tuple[ValidationReport, dict[str, str]]:
        assert self._proc.stdout is not None
        try:
            self._send(("done",))
            self._queue.put(None)
            self._pump_thread.join()
            if self._broken:
                raise self._died()
            msg = pickle.load(self._proc.stdout)
        except (EOFError, pickle.UnpicklingError) as exc:
            raise self._died() from exc
        finally:
            self.close()
        if msg[0] == "error":
            raise ValidationFailedError(f"the validator process failed:\n{msg[1]}")
        return msg[1], msg[2]

    def close(self) -> None:
        if self._pump_thread.is_alive():  # an export that failed: the child's answer is not wanted
            self._proc.kill()  # unblocks a pump waiting on the pipe
            self._broken = True
            self._queue.put(None)
            self._pump_thread.join()
        with contextlib.suppress(OSError):
            if self._proc.stdout is not None:
                self._proc.stdout.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def validate_files(store: Store, files: dict[str, Path], out_dir: str | None = None,
                   known_clean: set[bytes] | None = None) -> ValidationReport:
    """Check export files given by relative name (``sft/train.jsonl``...) -> path; never raises on bad rows.

    ``known_clean``: digests (:func:`text_digest`) of texts already scanned clean by the caller's
    redaction pass; those are not scanned twice.
    """
    validator = StreamValidator(store, known_clean, out_dir or "")
    try:
        for rel in sorted(files, key=_file_order):
            validator.feed(rel, [])
            with open(files[rel], "rb") as handle:
                while batch := list(itertools.islice(handle, _ROW_BATCH)):
                    validator.feed(rel, batch)
    finally:
        report, _ = validator.finish()
    return report


def _file_order(rel: str) -> tuple[int, str]:
    order = list(FILE_KINDS)
    return (order.index(rel), rel) if rel in FILE_KINDS else (len(order), rel)


def validate_export(store: Store, out_dir: str | Path) -> ValidationReport:
    """Validate the export under ``out_dir`` (every known file present there) against ``store``."""
    out = Path(out_dir)
    if not out.is_dir():
        raise InvalidInputError(f"{out} is not a folder; give the folder an export was written to")
    files = {rel: out / rel for rel in FILE_KINDS if (out / rel).is_file()}
    if not files:
        raise InvalidInputError(f"no export files under {out} (expected {', '.join(FILE_KINDS)}); "
                                "run `mcp-distill export` first")
    report = validate_files(store, files, str(out))
    receipt_path = out / "receipt.json"
    if receipt_path.is_file():
        try:
            receipt = Receipt.model_validate_json(receipt_path.read_bytes())
        except ValueError as exc:
            report.error(f"receipt.json: not a valid receipt ({str(exc).splitlines()[0]})")
            return report
        for digest in receipt.output_files:
            path = Path(digest.path).as_posix()
            rel = next((r for r in files if path == r or path.endswith(f"/{r}")), None)
            report.checks["receipt_hashes"] += 1
            if rel is not None:
                with contextlib.suppress(OSError):
                    if sha256_file(files[rel]) != digest.sha256:
                        report.error(f"{rel}: its sha256 differs from receipt.json: the file changed after the export")
    return report
