"""Dataset Builder, part 3: the validator run at the end of every export and by ``mcp-distill validate``.

It trusts nothing the exporter decided; every fact is read again from the store and the sources:

* **schema**: each row validates against SftSample / PreferenceSample / RagSample, and its
  ``split`` is the split of the file it is in; RAG ids are unique.
* **SFT**: the row's run is ``accepted`` in the store, and the records its provenance points at
  belong to that run.
* **preference**: chosen and rejected differ after normalisation; the records behind
  ``provenance[0]`` (chosen) and ``provenance[1]`` (rejected) belong to the named runs and both
  have the row's task key; across runs the chosen run is accepted and the rejected run rejected,
  within one run (attempts) the run is accepted or partially accepted, a consensus row's record
  carries a split vote.
* **RAG**: every source run is accepted and the chunk's records belong to one of them.
* **split**: ``split == split_for(task key)``, so one task is never in both splits.
* **provenance**: the source file exists; for line files the line at ``line_offset`` starts a
  line, parses, and its ``sig_hash`` (its own field when it is a string of >= 8 characters, else
  the sha256 of its canonical JSON) matches; for whole documents (.json/.traj/.yaml) the offset
  lies inside the file. The store holds an evidence record for that (file, offset, sig_hash).
* **secrets**: no content string contains anything :func:`mcp_distill.redact.find_secrets` finds.
* **receipt** (``validate_export`` only): files listed in ``receipt.json`` still have its sha256.
"""

from __future__ import annotations

import contextlib
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from pydantic import BaseModel, ValidationError

from .adapters.base import canonical_hash
from .collect import LINE_SUFFIXES, _looks_like_jsonl
from .errors import InvalidInputError
from .export_mine import differ, record_task_key, split_for
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
_MODELS: dict[str, type[BaseModel]] = {"sft": SftSample, "preference": PreferenceSample, "rag": RagSample}
#: Error messages kept in a report (all are counted).
MAX_ERRORS = 50
#: Entries per lookup cache before it forgets the oldest (keeps memory flat on big exports).
CACHE_LIMIT = 50_000
_OPEN_FILES = 16


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

    def __init__(self, store: Store, report: ValidationReport):
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
        if run_key in self._categories:
            return self._categories[run_key]
        row = self.store.query_one("SELECT category FROM scores WHERE run_key = ?", (run_key,))
        return self._categories.put(run_key, row["category"] if row else None)

    def records(self, prov: dict[str, Any]) -> list[_Found]:
        key = (prov["source_file"], prov["line_offset"], prov["sig_hash"])
        if key in self._records:
            return self._records[key]
        rows = self.store.conn.execute(
            "SELECT run_key, data FROM evidence WHERE source_file = ? AND line_offset = ? AND sig_hash = ? "
            "ORDER BY id", key).fetchall()
        found = []
        for run_key, data in rows:
            rec = orjson.loads(data)
            signals = rec.get("signals") or {}
            found.append(_Found(run_key, record_task_key(rec),
                                bool(signals.get("votes_for")) and bool(signals.get("votes_against"))))
        return self._records.put(key, found)

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
    """The strings a trainer reads (ids, hashes and provenance paths excluded)."""
    if kind == "sft":
        yield from _strings(row["messages"], "messages")
        for name in ("model", "task_type"):
            yield from _strings(row["metadata"].get(name), f"metadata.{name}")
    elif kind == "preference":
        for name in ("prompt", "chosen", "rejected"):
            yield name, row[name]
    else:
        for name in ("text", "title", "tags", "task_type"):
            yield from _strings(row.get(name), name)
        meta = {k: v for k, v in row["metadata"].items() if k not in ("record_id", "playbook_id")}
        yield from _strings(meta, "metadata")


class _RowValidator:
    def __init__(self, store: Store, report: ValidationReport):
        self.report = report
        self.check = _Checker(store, report)
        self.rag_ids: set[str] = set()

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


def validate_files(store: Store, files: dict[str, Path], out_dir: str | None = None) -> ValidationReport:
    """Check export files given by relative name (``sft/train.jsonl``...) -> path; never raises on bad rows."""
    report = ValidationReport(out_dir or "")
    validator = _RowValidator(store, report)
    try:
        for rel in sorted(files):
            if rel not in FILE_KINDS:
                raise InvalidInputError(f"{rel} is not an export file; expected one of {', '.join(FILE_KINDS)}")
            kind, split = FILE_KINDS[rel]
            model = _MODELS[kind]
            report.files[rel] = 0
            with open(files[rel], "rb") as handle:
                for n, raw in enumerate(handle, 1):
                    where = f"{rel} line {n}"
                    if not raw.strip():
                        report.error(f"{where}: empty line")
                        continue
                    report.files[rel] += 1
                    try:
                        row = orjson.loads(raw)
                    except orjson.JSONDecodeError as exc:
                        report.error(f"{where}: not JSON ({exc})")
                        continue
                    try:
                        model.model_validate(row)
                    except ValidationError as exc:
                        first = exc.errors()[0]
                        loc = ".".join(str(p) for p in first["loc"]) or "row"
                        report.error(f"{where}: schema {model.__name__}: {loc}: {first['msg']}")
                        continue
                    validator.row(kind, split, where, row)
    finally:
        validator.check.close()
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
