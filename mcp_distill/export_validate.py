"""Dataset Builder, part 3: the validator run at the end of every export and by ``mcp-distill validate``.

It trusts nothing the exporter decided; every fact is read again from the store and the sources:

* **schema**: each row validates against SftSample / PreferenceSample / RagSample, and its
  ``split`` is the split of the file it is in; RAG ids are unique.
* **SFT**: the row's run is ``accepted`` in the store, the records its provenance points at
  belong to that run, and the prompt's record has the answer's task key.
* **preference**: chosen and rejected differ after normalisation; the records behind
  ``provenance[0]`` (chosen) and ``provenance[1]`` (rejected) belong to the named runs and both
  have the row's task key; across runs the chosen run is accepted and the rejected run rejected,
  within one run (attempts) the run is accepted or partially accepted, a consensus row's record
  carries a split vote; the prompt's record (``provenance[2:]``) is the chosen run's, same task.
* **RAG**: every source run is accepted and the chunk's records belong to one of them.
* **split**: ``split == split_for(task key)``, so one task is never in both splits.
* **provenance**: the source file exists; for line files the line at ``line_offset`` starts a
  line, parses, and its ``sig_hash`` (its own field when it is a string of >= 8 characters, else
  the sha256 of its canonical JSON) matches; for whole documents (.json/.traj/.yaml) the offset
  lies inside the file. The store holds an evidence record for that (file, offset, sig_hash).
* **secrets**: no content string contains anything :func:`mcp_distill.redact.find_secrets` finds.
* **receipt** (``validate_export`` only): files listed in ``receipt.json`` still have its sha256.

During an export the same checks run in a child process (:class:`BackgroundValidator`, read-only
store connection) fed with every line as it is written; texts the redaction pass already scanned
clean are not scanned twice.
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
from collections import Counter, OrderedDict
from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
import sqlean
from pydantic import BaseModel, ValidationError

from .adapters.base import canonical_hash
from .collect import LINE_SUFFIXES, _looks_like_jsonl
from .errors import InvalidInputError, ValidationFailedError
from .export_mine import differ, split_for, task_key, text_digest
from .models import PreferenceSample, RagSample, Receipt, SftSample
from .receipts import sha256_file
from .redact import find_secrets
from .store import Store

#: Export files by relative path: (kind, split); RAG chunks have no split.
FILE_KINDS: dict[str, tuple[str, str | None]] = {
    "sft/train.jsonl": ("sft", "train"),
    "sft/validation.jsonl": ("sft", "validation"),
    "preference/train.jsonl": ("preference", "train"),
    "preference/validation.jsonl": ("preference", "validation"),
    "rag/chunks.jsonl": ("rag", None),
}
#: Free-text metadata a trainer may read, per kind: redacted by the export and scanned here.
CONTENT_METADATA: dict[str, tuple[str, ...]] = {
    "sft": ("model", "task_type"), "preference": (), "rag": ("model", "file_path", "task_id"),
}
_MODELS: dict[str, type[BaseModel]] = {"sft": SftSample, "preference": PreferenceSample, "rag": RagSample}
#: Error messages kept in a report (all are counted).
MAX_ERRORS = 50
#: Entries per lookup cache before it forgets the oldest (keeps memory flat on big exports).
CACHE_LIMIT = 50_000
_OPEN_FILES = 16
_IN_CHUNK = 500
#: Batches of lines that may wait for the background validator (bounded memory, no stalls).
_QUEUED_BATCHES = 32
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


class _Lru(OrderedDict[Any, Any]):
    def put(self, key: Any, value: Any) -> Any:
        self[key] = value
        if len(self) > CACHE_LIMIT:
            self.popitem(last=False)
        return value


@dataclass(frozen=True)
class _Found:
    run_key: str
    task_key: str | None
    split_vote: bool


class _Checker:
    """Store and source lookups, cached so rows sharing runs and lines cost one read."""

    def __init__(self, store: Store | _ReadOnlyStore, report: ValidationReport):
        self.store = store
        self.report = report
        self._categories = _Lru()
        self._sources = _Lru()
        self._records = _Lru()
        self._files: dict[str, tuple[int, bool] | None] = {}
        self._handles: OrderedDict[str, IO[bytes]] = OrderedDict()

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()

    def category(self, run_key: str) -> str | None:
        if run_key not in self._categories:
            self.prefetch({run_key}, set())
        return self._categories[run_key]

    def records(self, prov: dict[str, Any]) -> list[_Found]:
        key = (prov["source_file"], prov["line_offset"], prov["sig_hash"])
        if key not in self._records:
            self.prefetch(set(), {key})
        return self._records[key]

    def prefetch(self, runs: set[str], provs: set[tuple[str, int, str]]) -> None:
        """Load the categories of ``runs`` and the records at ``provs`` in a few IN queries."""
        conn = self.store.conn
        missing = sorted(r for r in runs if r not in self._categories)
        for i in range(0, len(missing), _IN_CHUNK):
            chunk = missing[i:i + _IN_CHUNK]
            with self.store.lock:
                found = dict(conn.execute(f"SELECT run_key, category FROM scores WHERE run_key IN "
                                          f"({','.join('?' * len(chunk))})", chunk).fetchall())
            for run in chunk:
                self._categories.put(run, found.get(run))
        need = sorted(p for p in provs if p not in self._records)
        for name, group in itertools.groupby(need, key=lambda p: p[0]):
            items = list(group)
            for i in range(0, len(items), _IN_CHUNK):
                chunk = items[i:i + _IN_CHUNK]
                offsets = sorted({p[1] for p in chunk})
                got: dict[tuple[str, int, str], list[_Found]] = {}
                with self.store.lock:
                    rows = conn.execute(
                        "SELECT line_offset, sig_hash, run_key, task_id, task_type, file_path, "
                        "CASE WHEN task_id IS NULL AND file_path IS NULL THEN json_extract(data, '$.input_text') END, "
                        "json_extract(data, '$.signals.votes_for'), json_extract(data, '$.signals.votes_against') "
                        f"FROM evidence WHERE source_file = ? AND line_offset IN ({','.join('?' * len(offsets))}) "
                        "ORDER BY id", [name, *offsets]).fetchall()
                for offset, sig, run, task_id, task_type, file_path, text, votes_for, votes_against in rows:
                    got.setdefault((name, offset, sig), []).append(
                        _Found(run, task_key(task_id, task_type, file_path, text), bool(votes_for) and bool(votes_against)))
                for p in chunk:
                    self._records.put(p, got.get(p, []))

    def _file(self, name: str) -> tuple[int, bool] | None:
        """(size, is a line file) of a source, None when it does not exist."""
        if name not in self._files:
            path = Path(name)
            if not path.is_file():
                self._files[name] = None
            else:
                lines = path.suffix.lower() in LINE_SUFFIXES or (path.suffix.lower() == ".json" and _looks_like_jsonl(path))
                self._files[name] = (path.stat().st_size, lines)
        return self._files[name]

    def _handle(self, name: str) -> IO[bytes]:
        handle = self._handles.pop(name, None) or open(name, "rb")  # noqa: SIM115 (closed in close())
        self._handles[name] = handle
        if len(self._handles) > _OPEN_FILES:
            self._handles.popitem(last=False)[1].close()
        return handle

    def source(self, prov: dict[str, Any]) -> str | None:
        """Why the provenance does not point at its source line (None when it does)."""
        key = (prov["source_file"], prov["line_offset"], prov["sig_hash"])
        if key in self._sources:
            return self._sources[key]
        return self._sources.put(key, self._source(*key))

    def _source(self, name: str, offset: int, sig: str) -> str | None:
        info = self._file(name)
        if info is None:
            return f"source file {name} does not exist"
        size, lines = info
        if offset >= size:
            return f"offset {offset} lies beyond the end of {name} ({size} bytes)"
        if not lines:
            return None  # a whole document: existing and long enough is all a line check can say
        handle = self._handle(name)
        if offset > 0:
            handle.seek(offset - 1)
            if handle.read(1) != b"\n":
                return f"{name}@{offset} is not the start of a line"
        handle.seek(offset)
        try:
            row = orjson.loads(handle.readline())
        except orjson.JSONDecodeError:
            return f"{name}@{offset} is not a JSON line"
        own = row.get("sig_hash") if isinstance(row, dict) else None
        actual = own if isinstance(own, str) and len(own) >= 8 else canonical_hash(row)
        if actual != sig:
            return f"{name}@{offset}: the line's sig_hash {actual[:16]}... does not match the provenance's {sig[:16]}..."
        return None


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")


def _content(kind: str, row: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """The strings a trainer reads (ids, hashes, provenance and generated metadata excluded)."""
    if kind == "sft":
        yield from _strings(row["messages"], "messages")
    elif kind == "preference":
        for name in ("prompt", "chosen", "rejected"):
            yield name, row[name]
    else:
        for name in ("text", "title", "tags", "task_type"):
            yield from _strings(row.get(name), name)
    meta = row["metadata"]
    for name in CONTENT_METADATA[kind]:
        yield from _strings(meta.get(name), f"metadata.{name}")


class _RowValidator:
    def __init__(self, store: Store | _ReadOnlyStore, report: ValidationReport,
                 known_clean: Container[bytes] | None = None):
        self.report = report
        self.check = _Checker(store, report)
        self.rag_ids: set[str] = set()
        self.known_clean = known_clean

    def prefetch(self, kind: str, rows: list[dict[str, Any]]) -> None:
        runs: set[str] = set()
        provs: set[tuple[str, int, str]] = set()
        for row in rows:
            meta = row["metadata"]
            if kind == "sft":
                runs.add(meta["run_id"])
            elif kind == "preference":
                runs.update((meta["chosen_run_id"], meta["rejected_run_id"]))
            else:
                runs.update(row["source_run_ids"])
            for p in meta.get("provenance") or row.get("provenance") or []:
                provs.add((p["source_file"], p["line_offset"], p["sig_hash"]))
        self.check.prefetch(runs, provs)

    def fail(self, where: str, message: str) -> None:
        self.report.error(f"{where}: {message}")

    def provenance(self, where: str, provs: list[dict[str, Any]]) -> None:
        for i, prov in enumerate(provs):
            self.report.checks["provenance"] += 1
            problem = self.check.source(prov)
            if problem:
                self.fail(where, f"provenance[{i}]: {problem}")
            elif not self.check.records(prov):
                self.fail(where, f"provenance[{i}] ({prov['source_file']}@{prov['line_offset']}) matches no "
                                 "evidence record in the store")

    def _of_run(self, prov: dict[str, Any], runs: set[str]) -> list[_Found]:
        return [f for f in self.check.records(prov) if f.run_key in runs]

    def row(self, kind: str, split: str | None, where: str, row: dict[str, Any]) -> None:
        if kind != "rag" and row["metadata"]["split"] != split:
            self.fail(where, f"split {row['metadata']['split']!r} in the {split} file")
        getattr(self, kind)(where, row, row["metadata"] if kind != "rag" else row)
        for field_name, text in _content(kind, row):
            if self.known_clean is not None and text_digest(text) in self.known_clean:
                self.report.checks["secret_scans_memoised"] += 1
                continue
            found = find_secrets(text)
            self.report.checks["secret_scans"] += 1
            if found:
                kinds = ", ".join(sorted({s.type for s in found}))
                self.fail(where, f"{field_name} still holds a secret ({kinds}): redaction missed it")

    def sft(self, where: str, row: dict[str, Any], meta: dict[str, Any]) -> None:
        run = meta["run_id"]
        category = self.check.category(run)
        self.report.checks["sft_run_accepted"] += 1
        if category != "accepted":
            self.fail(where, f"run {run} is {category or 'not scored or not in the store'}, not accepted: "
                             "only accepted runs may be in SFT")
        self.provenance(where, meta["provenance"])
        for i, prov in enumerate(meta["provenance"]):
            if self.check.records(prov) and not self._of_run(prov, {run}):
                self.fail(where, f"provenance[{i}]'s record belongs to another run than {run}")
        own = self._of_run(meta["provenance"][0], {run})
        keys = {f.task_key for f in own if f.task_key}
        if own and not any(split_for(k) == meta["split"] for k in keys):
            self.fail(where, f"split {meta['split']!r} is not the split of the run's task {sorted(keys)}")
        for i, prov in enumerate(meta["provenance"][1:], 1):  # the prompt's record: the answer's task
            found = self._of_run(prov, {run})
            if own and found and not keys & {f.task_key for f in found}:
                self.fail(where, f"provenance[{i}] (the prompt) is of another task than the answer {sorted(keys)}")

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
        if chosen and rejected and (key not in {f.task_key for f in chosen} or key not in {f.task_key for f in rejected}):
            self.fail(where, f"chosen and rejected are not of one task {key!r}")
        if split_for(key) != meta["split"]:
            self.fail(where, f"split {meta['split']!r} is not the split of task {key!r}")
        for i, prov in enumerate(provs[2:], 2):  # the prompt's record: the chosen run's, same task
            found = self._of_run(prov, {chosen_run})
            if not found:
                self.fail(where, f"provenance[{i}] (the prompt) is not a record of run {chosen_run}")
            elif key not in {f.task_key for f in found}:
                self.fail(where, f"provenance[{i}] (the prompt) is of another task than {key!r}")
        c_cat, r_cat = self.check.category(chosen_run), self.check.category(rejected_run)
        if chosen_run != rejected_run:
            if c_cat != "accepted" or r_cat != "rejected":
                self.fail(where, f"across runs the chosen run must be accepted and the rejected run rejected; "
                                 f"{chosen_run} is {c_cat}, {rejected_run} is {r_cat}")
        elif meta["source"] == "consensus":
            if chosen and not any(f.split_vote for f in chosen):
                self.fail(where, "a consensus pair's record has no split vote")
        elif c_cat not in ("accepted", "partially_accepted"):
            self.fail(where, f"attempts within run {chosen_run}: the run is {c_cat}, not accepted")

    def rag(self, where: str, row: dict[str, Any], _: dict[str, Any]) -> None:
        if row["id"] in self.rag_ids:
            self.fail(where, f"chunk id {row['id']!r} appears twice")
        self.rag_ids.add(row["id"])
        runs = set(row["source_run_ids"])
        if not runs:
            self.fail(where, "no source run")
        for run in sorted(runs):
            self.report.checks["rag_run_accepted"] += 1
            category = self.check.category(run)
            if category != "accepted":
                self.fail(where, f"source run {run} is {category or 'not scored or not in the store'}, not accepted")
        self.provenance(where, row["provenance"])
        for i, prov in enumerate(row["provenance"]):
            if self.check.records(prov) and not self._of_run(prov, runs):
                self.fail(where, f"provenance[{i}]'s record belongs to none of the source runs")


def _parse(report: ValidationReport, rel: str, model: type[BaseModel], n: int,
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


class StreamValidator:
    """Validates export lines as they are fed, file by file, in order; :meth:`finish` gives the report
    and the sha256 of the bytes validated per file (to prove they are the bytes on disk)."""

    def __init__(self, store: Store | _ReadOnlyStore, known_clean: set[bytes] | None = None, out_dir: str = ""):
        self.report = ValidationReport(out_dir)
        self.known_clean = known_clean
        self.rows = _RowValidator(store, self.report, known_clean)
        self._lines: dict[str, int] = {}
        self._hashes: dict[str, Any] = {}

    def add_clean(self, digests: list[bytes]) -> None:
        if self.known_clean is not None:
            self.known_clean.update(digests)

    def feed(self, rel: str, lines: list[bytes]) -> None:
        if rel not in FILE_KINDS:
            raise InvalidInputError(f"{rel} is not an export file; expected one of {', '.join(FILE_KINDS)}")
        if rel not in self._hashes:
            self._hashes[rel], self._lines[rel], self.report.files[rel] = hashlib.sha256(), 0, 0
        kind, split = FILE_KINDS[rel]
        model = _MODELS[kind]
        for i in range(0, len(lines), _ROW_BATCH):
            parsed = []
            for raw in lines[i:i + _ROW_BATCH]:
                self._hashes[rel].update(raw)
                self._lines[rel] += 1
                self.report.files[rel] += 1 if raw.strip() else 0
                if (row := _parse(self.report, rel, model, self._lines[rel], raw)) is not None:
                    parsed.append(row)
            self.rows.prefetch(kind, [row for _, row in parsed])
            for where, row in parsed:
                self.rows.row(kind, split, where, row)

    def finish(self) -> tuple[ValidationReport, dict[str, str]]:
        self.rows.check.close()
        return self.report, {rel: h.hexdigest() for rel, h in self._hashes.items()}


class _ReadOnlyStore:
    """What the validator reads of a Store, over a read-only connection. Read-only on purpose: a
    read-write connection that believes it is the last one checkpoints and deletes the WAL when it
    closes, which would strand the writes of a parent whose POSIX locks were dropped (any close() of
    another descriptor of the database file in that process drops them)."""

    def __init__(self, path: str):
        self.path = Path(path)
        self.conn = sqlean.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False,
                                   isolation_level=None)
        self.conn.execute("PRAGMA busy_timeout = 60000")
        self.lock = threading.RLock()

    def close(self) -> None:
        self.conn.close()


def _child_main() -> None:
    """``python -m mcp_distill.export_validate DB``: the process behind :class:`BackgroundValidator`.

    Reads pickled messages from stdin, writes one pickled result to stdout. A plain subprocess (not
    multiprocessing) so a caller's ``__main__`` is never re-imported and no SQLite handle is inherited.
    """
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    try:
        store = _ReadOnlyStore(sys.argv[1])
        validator = StreamValidator(store, set())
        while (msg := pickle.load(source))[0] != "done":  # EOFError: the parent gave up (its export failed)
            if msg[0] == "clean":
                validator.add_clean(msg[1])
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
        package_root = str(Path(__file__).resolve().parent.parent)
        env = os.environ | {"PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)}
        self._proc = subprocess.Popen([sys.executable, "-m", "mcp_distill.export_validate", str(db_path)],
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
        for rel in sorted(files):
            validator.feed(rel, [])
            with open(files[rel], "rb") as handle:
                while batch := list(itertools.islice(handle, _ROW_BATCH)):
                    validator.feed(rel, batch)
    finally:
        report, _ = validator.finish()
    return report


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
            rel = "/".join(Path(digest.path).parts[-2:])
            report.checks["receipt_hashes"] += 1
            if rel in files:
                with contextlib.suppress(OSError):
                    if sha256_file(files[rel]) != digest.sha256:
                        report.error(f"{rel}: its sha256 differs from receipt.json: the file changed after the export")
    return report


if __name__ == "__main__":  # run through the imported module, so pickled classes resolve in the parent
    from mcp_distill.export_validate import _child_main as main

    main()
