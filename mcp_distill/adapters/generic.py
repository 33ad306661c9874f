"""The generic adapter: any JSON object stream no adapter or mapping claims, read with inferred field roles.

Registered last (and with the lowest precedence), so it only ever sees files nothing else recognised; known
formats never reach it, and their collect speed does not change. For each file it samples the first
:data:`~mcp_distill.adapters.infer.SAMPLE_ROWS` objects (lines of a JSONL file, records of a JSON/YAML
document), infers the roles (:mod:`.infer`) and maps every row with that inferred mapping:

- records are marked by their stream, ``inferred``; the mapping used (TOML) is in the collect receipt
  (``details.files[].inferred_mapping``) and in the collect summary's ``per_file``;
- runs are grouped by the inferred run id, or by task id within the file (``{file_stem}:{task_id}``);
- a file whose fields show no run or task id, outcome, prompt or answer is quarantined as before, with a
  reason that points to ``mcp-distill mapping suggest``; lines that are not JSON objects are quarantined too.

``collect --no-infer`` turns it off. The sample is always the file's head, so a file that grows keeps the
same mapping and its records the same run ids.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from mcp_distill.adapters.base import Adapter, Fields, Row, register
from mcp_distill.adapters.infer import SAMPLE_ROWS, Inference, infer
from mcp_distill.adapters.mapping import MappingAdapter, adapter_for, parse_mapping
from mcp_distill.adapters.suggest import find_records, render_toml, sample_lines
from mcp_distill.adapters.traces_common import unwrap_list

STREAM = "inferred"
_NOTHING = (f"{STREAM}: no run or task id, outcome, prompt or answer could be inferred from the file's first "
            f"{SAMPLE_ROWS} rows; add a mapping file (`mcp-distill mapping suggest FILE` writes one, docs/streams.md)")


@register
class InferredLinesAdapter(Adapter):
    """JSONL files of any format; a copy per file (:meth:`begin_file`) holds that file's inferred mapping."""

    stream = STREAM
    priority = 1_000  # after every other adapter, whatever the registry's order
    #: The collector leaves this adapter out under ``collect --no-infer``.
    inferred: ClassVar[bool] = True

    def __init__(self) -> None:
        self._mapped: MappingAdapter | None = None
        self.inferred_toml: str | None = None

    def matches_content(self, sample: Row) -> bool:
        return isinstance(sample, Mapping) and bool(sample)

    def begin_file(self, path: Path, offset: int = 0) -> None:
        self._use(infer(sample_lines(path)), path)

    def _use(self, inference: Inference, path: Path) -> None:
        if not inference.has_key_role:
            self._mapped, self.inferred_toml = None, None
            return
        data = inference.mapping_data(STREAM, [path.name], required=False)
        self._mapped = adapter_for(parse_mapping(Path(f"(inferred for {path.name})"), data))
        self._mapped.begin_file(path)
        self.inferred_toml = render_toml(inference, STREAM, [path.name], required=False,
                                         by="the generic adapter of `mcp-distill collect`")

    def file_notes(self) -> list[str]:
        if self._mapped is None:
            return [_NOTHING + "; its lines were quarantined"]
        return self._mapped.file_notes()

    def check(self, row: Row) -> str | None:
        return _NOTHING if self._mapped is None else self._mapped.check(row)

    def map(self, row: Row) -> Fields:
        if self._mapped is None:
            raise ValueError(_NOTHING)
        return self._mapped.map(row)


@register
class InferredDocumentAdapter(InferredLinesAdapter):
    """Whole JSON/YAML documents holding a list of objects (or one object) no adapter claims."""

    whole_file = True
    takes_path: ClassVar[bool] = True

    def matches_content(self, sample: Row) -> bool:
        selector, records = find_records(unwrap_list(sample))
        rows = [r for r in records[:SAMPLE_ROWS] if isinstance(r, dict)]
        return bool(rows) and infer(rows, selector).has_key_role

    def map_document(self, doc: Any, raw: bytes, path: Path | None = None) -> Iterator[tuple[int, Fields]]:
        selector, records = find_records(doc)
        path = path or Path("document.json")
        self._use(infer([r for r in records[:SAMPLE_ROWS] if isinstance(r, dict)], selector), path)
        if self._mapped is None:
            raise ValueError(_NOTHING)
        yield from self._mapped.map_document(doc, raw, path=path)
