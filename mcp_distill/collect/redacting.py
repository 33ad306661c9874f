"""Redaction before storing (``--redact-on-collect``): for teams whose store must never hold a secret.

Every prepared line passes :meth:`CollectRedactor.items` in the collector, just before it is stored,
whether a worker or the collector prepared it:

* **ids** (run id, task id, task type, model, file path, head sha, stream, tags, the line's own
  ``sig_hash``) are redacted with stable placeholders (:func:`mcp_distill.redact.edges.redact_atom`,
  the store's HMAC key) in the columns and in the record's JSON alike, so run joins, run keys and
  task keys are computed from the same redacted values, re-collecting the same line gives the same
  stored record and an export later publishes them unchanged;
* **every other string** of the record's JSON (text, signals, extra; dict keys too) goes through
  :func:`mcp_distill.redact.edges.redact_tree`, as every output of the store does;
* a **quarantined** line's excerpt and reason are redacted too; an excerpt cut in the middle of a
  token loses that token (a secret's first half is not detected as one).

What stays raw, because the store must find its sources again: file paths (``source_file``, the
``sources`` table) and the hashes collect computes from the raw line (``record_id``, the line's
content hash used as ``sig_hash`` when it has none of its own). They are digests or names the user
chose, never line content, and they keep dedup stable: the same input gives the same ``record_id``
however often it is collected.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import orjson

from mcp_distill.collect.workers import EXCERPT_CHARS, Item, Prepared
from mcp_distill.redact import redact, redact_atom, redact_tree, redaction_key
from mcp_distill.store import Store

#: Record fields that are identifiers (joined on, or shown as ids): stable placeholders always.
ID_FIELDS = ("run_id", "task_id", "task_type", "model_name", "file_path", "head_sha", "stream", "model_role")
#: The store's meta key that makes redaction on collect the rule for every later write to the store.
META_KEY = "redact_on_collect"
_TRAILING_TOKEN = re.compile(r"[^\s\"',;:{}\[\]()<>=]+$")


class CollectRedactor:
    """Redacts prepared items with the store's key; ``counts`` by type for the collect receipt."""

    def __init__(self, key: bytes):
        self.key = key
        self.counts: Counter[str] = Counter()

    def _id(self, value: Any) -> Any:
        return redact_atom(value, self.key, self.counts) if isinstance(value, str) else value

    def record(self, rec: Prepared) -> Prepared:
        """The line's columns and JSON redacted (the collector calls it for lines not stored yet)."""
        data: dict[str, Any] = orjson.loads(rec.data)
        order = list(data)
        ids = {name: self._id(data.pop(name)) for name in ID_FIELDS if name in data}
        tags = [self._id(t) for t in data.pop("tags", None) or []]
        provenance = data.pop("provenance")
        record_id = data.pop("record_id")  # a digest of the raw line: the dedup key, kept as it is
        redacted, found = redact_tree(data, self.key)
        self.counts.update(found)
        sig_hash = self._id(rec.sig_hash)
        provenance["sig_hash"] = sig_hash
        merged = redacted | ids | ({"tags": tags} if tags else {}) | {"provenance": provenance, "record_id": record_id}
        redacted = {name: merged[name] for name in order if name in merged}  # the record's own field order
        return Prepared(
            rec.record_id, ids.get("stream", rec.stream), ids.get("run_id"), ids.get("task_id"), ids.get("task_type"),
            ids.get("model_name"), ids.get("file_path"), rec.pr_number, ids.get("head_sha"), rec.ts, rec.epoch,
            sig_hash, orjson.dumps(redacted).decode(), rec.offset, rec.legacy_id)

    def text(self, value: str) -> str:
        """Free text collect writes about a file (warnings, an inferred mapping's examples) redacted."""
        cleaned, found = redact(value)
        self.counts.update(found)
        return cleaned

    def quarantined(self, item: Item) -> Item:
        kind, offset, line_sha, reason, excerpt = item
        text, found = redact(excerpt)
        if len(excerpt) >= EXCERPT_CHARS:  # cut mid-token: a secret's first half is not detected as one
            text = _TRAILING_TOKEN.sub("", text)
        why, also = redact(reason)
        self.counts.update(found + also)
        return (kind, offset, line_sha, why, text)


def for_store(store: Store, asked: bool) -> CollectRedactor | None:
    """The redactor a collect into ``store`` uses, or None. Once asked for, the store remembers it
    (meta ``redact_on_collect``): a store that must never hold a secret stays so, whichever face writes
    to it later (a collect without the flag, ``record_evidence``); use a new store to keep raw lines."""
    if asked and store.get_meta(META_KEY) != "1":
        store.set_meta(META_KEY, "1")
    if asked or store.get_meta(META_KEY) == "1":
        return CollectRedactor(redaction_key(store))
    return None


__all__ = ["ID_FIELDS", "META_KEY", "CollectRedactor", "for_store"]
