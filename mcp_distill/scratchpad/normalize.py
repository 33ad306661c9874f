"""Scratchpad Normalizer: free-text agent notes -> a deterministic :class:`ScratchpadSummary`.

Input is markdown notes, checklists, chat histories (aider) or raw logs. This module holds the input
checks (size, encoding, the roots guard), storage per run (with a receipt per call) and the public API;
the extraction rules and regex tables are in :mod:`mcp_distill.scratchpad.rules` (documented there),
the one-pass line parser in :mod:`mcp_distill.scratchpad.parse`.

Same text -> byte-identical summary. An optional LLM pass (:mod:`mcp_distill.scratchpad.llm`) may
refine the result; it is never required.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from mcp_distill.config import Settings
from mcp_distill.errors import InvalidInputError, NotFoundError
from mcp_distill.markdown import checkbox, list_item, scan, split_lines
from mcp_distill.models import ChecklistCounts, ScratchpadSummary
from mcp_distill.receipts import ReceiptBuilder
from mcp_distill.scratchpad.llm import LLMConfig, refine, resolve_llm
from mcp_distill.scratchpad.parse import summarize
from mcp_distill.scratchpad.repository import list_scratchpad_runs, save_summary, stored_summary
from mcp_distill.scratchpad.rules import (
    KNOWN_COMMANDS,
    KNOWN_EXTENSIONS,
    MAX_CHECKS,
    MAX_ITEM_CHARS,
    MAX_LINE_CHARS,
    MAX_LIST_ITEMS,
    path_of,
)
from mcp_distill.store import Store

#: Inputs larger than this (UTF-8 bytes) are refused: a scratchpad is notes, not a data dump.
MAX_SCRATCHPAD_BYTES = 2 * 1024 * 1024


# --- input checks ------------------------------------------------------------------------------
def _checked_text(text: str | bytes, origin: str = "the text") -> str:
    if isinstance(text, bytes | bytearray):
        if len(text) > MAX_SCRATCHPAD_BYTES:
            raise InvalidInputError(_too_big(origin, len(text)))
        if b"\x00" in text:
            raise InvalidInputError(f"{origin} looks binary (NUL bytes); give a UTF-8 text scratchpad")
        try:
            return bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"{origin} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                                    "convert it to UTF-8 first") from exc
    if not isinstance(text, str):
        raise InvalidInputError(f"{origin} must be a string, not {type(text).__name__}")
    if "\x00" in text:
        raise InvalidInputError(f"{origin} looks binary (NUL characters); give a UTF-8 text scratchpad")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"{origin} holds undecodable characters (lone surrogates); "
                                "give valid UTF-8 text") from exc
    if size > MAX_SCRATCHPAD_BYTES:
        raise InvalidInputError(_too_big(origin, size))
    return text


def _too_big(origin: str, size: int) -> str:
    return (f"{origin} is {size:,} bytes, over the {MAX_SCRATCHPAD_BYTES:,}-byte limit "
            f"(MAX_SCRATCHPAD_BYTES = 2 MiB) for a scratchpad; pass only the recent part, e.g. its tail")


def read_scratchpad(path: str | os.PathLike[str], settings: Settings | None = None) -> str:
    """The text of a scratchpad file, through the roots guard, refused when too large or binary."""
    return _read(path, settings)[1]


def _read(path: str | os.PathLike[str], settings: Settings | None) -> tuple[Path, str]:
    """(resolved path, text) of a scratchpad file; the resolved path is what the receipt names."""
    resolved = (settings or Settings.from_env()).check_path(path)
    if not resolved.exists():
        raise NotFoundError(f"no scratchpad file at {resolved}; check the path")
    if not resolved.is_file():
        raise InvalidInputError(f"{resolved} is not a regular file; give the path of a scratchpad text file")
    size = resolved.stat().st_size
    if size > MAX_SCRATCHPAD_BYTES:
        raise InvalidInputError(_too_big(str(resolved), size))
    return resolved, _checked_text(resolved.read_bytes(), str(resolved))


# --- public API --------------------------------------------------------------------------------
def count_checklist(text: str) -> ChecklistCounts:
    """The checkbox tally of ``text``: every ``[x]`` / ``[ ]`` list item outside fenced code."""
    checked = unchecked = 0
    for line in scan(split_lines(text)):
        item = None if line.in_code else list_item(line.text)
        box = checkbox(item.rest) if item else None
        if box is None or box[0] not in " xX" or not item.rest[3:4].isspace():  # type: ignore[union-attr]
            continue
        if box[0] == " ":
            unchecked += 1
        else:
            checked += 1
    return ChecklistCounts(checked=checked, unchecked=unchecked)


def normalize_text(text: str | bytes, run_id: str | None = None) -> ScratchpadSummary:
    """The deterministic summary of ``text`` (pure: no store, no network). Same text -> same summary."""
    text = _checked_text(text)
    return summarize(text, run_id).model_copy(update={"checklist": count_checklist(text)})


def normalize(
    store: Store | None,
    text: str | bytes | None = None,
    path: str | os.PathLike[str] | None = None,
    run_id: str | None = None,
    settings: Settings | None = None,
    llm: LLMConfig | bool | None = None,
    *,
    command: str = "normalize_scratchpad",
) -> ScratchpadSummary:
    """Normalise a scratchpad given as ``text`` or as a ``path`` (checked against ``settings`` roots).

    With ``run_id`` (and a store) the summary is stored; the same text for the same run is stored once,
    and normalising it again returns the stored summary without a new LLM call. ``llm``: an
    :class:`LLMConfig` or ``True`` turns the optional refinement on (``True`` reads
    ``MCP_DISTILL_LLM_URL``/``MCP_DISTILL_LLM_MODEL``), ``False`` keeps it off, ``None`` uses it only
    when both variables are set. A failed refinement keeps the deterministic result with
    ``needs_human_review=True`` and the cause in ``review_reason``.

    With a store, every successful call writes a receipt (stage ``scratchpad``, ``command`` as given):
    the file read (if any), 1 record in, 1 out when the summary is stored, the run id and source hash.
    """
    if (text is None) == (path is None):
        raise InvalidInputError("give exactly one of text or path for the scratchpad")
    receipt = ReceiptBuilder("scratchpad", command) if store is not None else None  # started before the work
    resolved: Path | None = None
    if path is not None:
        resolved, body = _read(path, settings)
    else:
        body = _checked_text(text)  # type: ignore[arg-type]
    summary = normalize_text(body, run_id)
    source_hash = summary.source_scratchpad_hash
    reused = stored = False
    if run_id is not None and store is not None:
        found = stored_summary(store, run_id, source_hash)
        if found is not None:
            summary, reused, stored = found, True, True
    if not reused:
        config = resolve_llm(llm)
        if config is not None:
            summary = refine(summary, body, config).model_copy(update={"checklist": summary.checklist})
        if run_id is not None and store is not None:
            summary, stored = _save(store, summary), True
    if receipt is not None:
        if resolved is not None:
            receipt.add_input(resolved)
        receipt.count_in = 1
        receipt.count_out = 1 if stored else 0
        if reused:
            receipt.count("already_stored")  # same text for the same run: the stored summary was returned
        if summary.needs_human_review and summary.review_reason:
            receipt.warnings.append(f"needs human review: {summary.review_reason}")
        receipt.details = {"run_id": run_id, "source_scratchpad_hash": source_hash, "method": summary.method}
        receipt.finish(store, validation_pass=True)
    return summary


#: The name the issue uses.
normalize_scratchpad = normalize


def _save(store: Store, summary: ScratchpadSummary) -> ScratchpadSummary:
    save_summary(store, summary, datetime.now(UTC).isoformat(timespec="seconds"))
    return stored_summary(store, summary.run_id or "", summary.source_scratchpad_hash) or summary


def get_scratchpad(store: Store, run_id: str, source_hash: str | None = None) -> ScratchpadSummary:
    """The latest stored summary of ``run_id`` (or the one of that source text when ``source_hash`` is given)."""
    found = stored_summary(store, run_id, source_hash)
    if found is None:
        which = f"run {run_id!r}" + (f" with source hash {source_hash}" if source_hash else "")
        raise NotFoundError(f"no scratchpad stored for {which}; normalise the scratchpad with run_id={run_id!r} first",
                            cli=f"no scratchpad stored for {which}; store one with `mcp-distill scratchpad normalize "
                                f"FILE --run-id {run_id}` first")
    return found


__all__ = ["KNOWN_COMMANDS", "KNOWN_EXTENSIONS", "MAX_CHECKS", "MAX_ITEM_CHARS", "MAX_LINE_CHARS", "MAX_LIST_ITEMS",
           "MAX_SCRATCHPAD_BYTES", "LLMConfig", "get_scratchpad", "list_scratchpad_runs", "normalize",
           "normalize_scratchpad", "normalize_text", "path_of", "read_scratchpad"]
