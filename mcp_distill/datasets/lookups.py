"""The store and source lookups behind the row checks (:mod:`mcp_distill.datasets.checks`).

Rows carry ids and paths as published (:mod:`mcp_distill.redact.aliases`): a secret inside an id
is a stable placeholder, a source path reads ``<root label>/<relative path>``. :class:`Resolver`
turns them back into the raw values the store and the source files hold: from the exporter's alias
map while an export runs (handed over in memory, never written), else from the store itself (the
labels recomputed from its source files, a redacted run id found by the parts around its
placeholders). A raw value read from the store or a source line matches a published one when they
are equal, or, when the published one holds a placeholder, when publishing the raw value gives it.

:class:`Lookups` reads what the checks compare with (run categories, the records at a source line,
the source lines themselves) a batch at a time and keeps them in bounded caches, so rows sharing
runs and lines cost one read.
"""

from __future__ import annotations

import itertools
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from mcp_distill.adapters import canonical_hash
from mcp_distill.collect import is_line_file
from mcp_distill.collect.repository import categories_of, records_at_lines, scored_run_keys_matching, source_files
from mcp_distill.datasets.mine import split_for, task_key
from mcp_distill.redact import KEY_META, PLACEHOLDER_RE, Publisher, has_placeholder, source_labels
from mcp_distill.store import ReadOnlyStore, Store

#: Entries per lookup cache before it forgets the oldest (keeps memory flat on big exports).
CACHE_LIMIT = 50_000
#: Source files kept open at once while their lines are checked.
OPEN_FILES = 16
#: Values per IN query of a batched lookup.
IN_CHUNK = 500


class BoundedCache(OrderedDict[Any, Any]):
    """A dict that forgets its oldest entry past :data:`CACHE_LIMIT`."""

    def put(self, key: Any, value: Any) -> Any:
        self[key] = value
        if len(self) > CACHE_LIMIT:
            self.popitem(last=False)
        return value


@dataclass(frozen=True)
class Found:
    """An evidence record at a provenance's source line, as the checks compare it (raw keys)."""

    run_key: str
    task_key: str | None
    split: str | None  # the split of the raw task key
    attempt: Any  # the record's extra.attempt, as stored


class Resolver:
    """Published ids and paths -> raw values (see the module doc)."""

    def __init__(self, store: Store | ReadOnlyStore):
        self.store = store
        self.aliases: dict[str, str] = {}
        self._ids: Publisher | None = None
        self._files: list[str] | None = None

    @property
    def ids(self) -> Publisher:
        if self._ids is None:
            key = self.store.get_meta(KEY_META)
            # no key: nothing was ever published with one, so no placeholder can resolve (any key will do)
            self._ids = Publisher(bytes.fromhex(key) if key else os.urandom(32))
        return self._ids

    def matches(self, published: str | None, raw: str | None) -> bool:
        if published is None or raw is None or not has_placeholder(published):
            return published == raw
        return self.ids.id(raw) == published

    def run(self, published: str) -> str:
        if published in self.aliases or not has_placeholder(published):
            return self.aliases.get(published, published)
        # the parts around the placeholders are the raw key's own text: the store narrows to the keys
        # holding them, publishing each of those says which one it was
        parts = PLACEHOLDER_RE.split(published)
        found = [k for k in scored_run_keys_matching(self.store, parts) if self.ids.id(k) == published]
        return self.aliases.setdefault(published, found[0]) if len(found) == 1 else published

    def path(self, published: str) -> str:
        if published in self.aliases:
            return self.aliases[published]
        if os.path.isabs(published) and not has_placeholder(published):
            return published  # an export written before paths were labelled
        if self._files is None:
            self._files = source_files(self.store)
            labelled = Publisher(self.ids.key, source_labels(self._files))
            for raw, shown in zip(self._files, labelled.publish(self._files, [True] * len(self._files)), strict=True):
                self.aliases.setdefault(shown, raw)
            if published in self.aliases:
                return self.aliases[published]
        # the store gained files elsewhere since the export (another common folder): label/relative path
        # is still the tail of the raw path
        parts = published.count("/") + 1
        found = [f for f in self._files if self.matches(published, "/".join(f.split("/")[-parts:]))]
        return self.aliases.setdefault(published, found[0]) if len(found) == 1 else published


class Lookups:
    """Store and source lookups, cached so rows sharing runs and lines cost one read. Takes runs and
    provenance as the row publishes them; the records found hold raw run and task keys."""

    def __init__(self, store: Store | ReadOnlyStore):
        self.store = store
        self.resolve = Resolver(store)
        self._categories = BoundedCache()
        self._sources = BoundedCache()
        self._records = BoundedCache()
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

    def records(self, prov: dict[str, Any]) -> list[Found]:
        key = (prov["source_file"], prov["line_offset"], prov["sig_hash"])
        if key not in self._records:
            self.prefetch(set(), {key})
        return self._records[key]

    def prefetch(self, runs: set[str], provs: set[tuple[str, int, str]]) -> None:
        """Load the categories of ``runs`` and the records at ``provs`` in a few IN queries."""
        missing = sorted(r for r in runs if r not in self._categories)
        for i in range(0, len(missing), IN_CHUNK):
            chunk = missing[i:i + IN_CHUNK]
            raw = [self.resolve.run(r) for r in chunk]
            found = categories_of(self.store, raw)
            for run, raw_run in zip(chunk, raw, strict=True):
                self._categories.put(run, found.get(raw_run))
        need = sorted(p for p in provs if p not in self._records)
        for name, group in itertools.groupby(need, key=lambda p: p[0]):
            items = list(group)
            raw_name = self.resolve.path(name)
            for i in range(0, len(items), IN_CHUNK):
                chunk = items[i:i + IN_CHUNK]
                offsets = sorted({p[1] for p in chunk})
                got: dict[int, list[tuple[str, Found]]] = {}
                rows = records_at_lines(self.store, raw_name, offsets)
                for offset, sig, run, task_id, task_type, file_path, text, attempt in rows:
                    key = task_key(task_id, task_type, file_path, text)
                    got.setdefault(offset, []).append((sig, Found(
                        run, key, split_for(key) if key else None, attempt)))
                for p in chunk:
                    self._records.put(p, [f for sig, f in got.get(p[1], []) if self.resolve.matches(p[2], sig)])

    def _file(self, name: str) -> tuple[int, bool] | None:
        """(size, is a line file) of a source, None when it does not exist."""
        if name not in self._files:
            path = Path(name)
            if not path.is_file():
                self._files[name] = None
            else:
                lines = is_line_file(path)
                self._files[name] = (path.stat().st_size, lines)
        return self._files[name]

    def _handle(self, name: str) -> IO[bytes]:
        handle = self._handles.pop(name, None) or open(name, "rb")  # noqa: SIM115 (closed in close())
        self._handles[name] = handle
        if len(self._handles) > OPEN_FILES:
            self._handles.popitem(last=False)[1].close()
        return handle

    def source(self, prov: dict[str, Any]) -> str | None:
        """Why the provenance does not point at its source line (None when it does)."""
        key = (prov["source_file"], prov["line_offset"], prov["sig_hash"])
        if key in self._sources:
            return self._sources[key]
        return self._sources.put(key, self._source(*key))

    def _source(self, name: str, offset: int, sig: str) -> str | None:
        """``name`` and ``sig`` as the row publishes them; messages name them so (no raw path)."""
        info = self._file(self.resolve.path(name))
        if info is None:
            return f"source file {name} does not exist"
        size, lines = info
        if offset >= size:
            return f"offset {offset} lies beyond the end of {name} ({size} bytes)"
        if not lines:
            return None  # a whole document: existing and long enough is all a line check can say
        handle = self._handle(self.resolve.path(name))
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
        if not self.resolve.matches(sig, actual):
            return f"{name}@{offset}: the line's sig_hash {actual[:16]}... does not match the provenance's {sig[:16]}..."
        return None


