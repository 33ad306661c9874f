"""RAG chunks: accepted evidence and playbooks cut into retrievable pieces with stable ids."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mcp_distill.datasets.mine import Candidate, RunView, attempt_of, nonblank, provenance

#: RAG chunks are cut at paragraph, then line, then hard boundaries to at most this many characters.
CHUNK_CHARS = 1500
#: Texts shorter than this (after stripping) are not worth a RAG chunk.
MIN_CHUNK_CHARS = 20
#: Streams whose text is a fingerprint or a label, not knowledge worth retrieving.
RAG_SKIP_STREAMS = frozenset({"signatures", "classifications"})


def chunk_text(text: str, limit: int = CHUNK_CHARS) -> list[str]:
    """Cut at paragraph boundaries, then lines, then hard; pieces are packed up to ``limit`` chars."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    pieces: list[str] = []
    for para in text.split("\n\n"):
        if len(para) <= limit:
            pieces.append(para)
            continue
        for line in para.split("\n"):
            pieces.extend(line[i:i + limit] for i in range(0, len(line), limit)) if len(line) > limit \
                else pieces.append(line)
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        joined = f"{current}\n\n{piece}" if current else piece
        if len(joined) <= limit:
            current = joined
        else:
            if current.strip():
                chunks.append(current.strip())
            current = piece
    if current.strip():
        chunks.append(current.strip())
    return chunks


def _rag_row(chunk_id: str, text: str, title: str, tags: list[str], task_type: str | None, kind: str,
             runs: list[str], metadata: dict[str, Any], provs: list[dict[str, Any]]) -> Candidate:
    row = {"id": chunk_id, "text": text, "title": title, "tags": tags, "task_type": task_type, "kind": kind,
           "source_run_ids": runs, "metadata": {k: v for k, v in metadata.items() if v is not None},
           "provenance": provs}
    return Candidate(row, "train", chunk_id, (text,))


def evidence_chunks(view: RunView) -> Iterator[Candidate]:
    """Accepted evidence: the run's output and every record's free text, chunked, with stable ids."""
    if view.category != "accepted":
        return
    for rec in view.records:
        if rec.get("stream") in RAG_SKIP_STREAMS:
            continue
        attempt = attempt_of(rec)
        if attempt is not None and view.accepted_attempt is not None and attempt < view.accepted_attempt:
            continue  # an attempt the run itself rejected
        fields = [("output_text", rec.get("output_text"))] if rec is view.output else []
        fields += [("text", rec.get("text")), ("observer_notes", rec.get("observer_notes"))]
        for name, value in fields:
            if not nonblank(value) or len(value.strip()) < MIN_CHUNK_CHARS:
                continue
            chunks = chunk_text(value)
            where = rec.get("file_path") or rec.get("task_id") or rec.get("task_type") or view.run_key
            for i, chunk in enumerate(chunks):
                yield _rag_row(
                    f"ev:{rec['record_id']}:{name}:{i}", chunk, f"{rec['stream']}: {where}",
                    sorted({*(rec.get("tags") or []), f"stream:{rec['stream']}"}), rec.get("task_type"),
                    "evidence", [view.run_key],
                    {"stream": rec["stream"], "field": name, "chunk": i, "chunks": len(chunks),
                     "record_id": rec["record_id"], "model": rec.get("model_name"), "file_path": rec.get("file_path"),
                     "task_id": rec.get("task_id"), "timestamp": rec.get("timestamp"),
                     "scorer_version": view.scorer_version},
                    [provenance(rec)])


def _section(title: str, items: list[str] | str | None) -> str | None:
    if not items:
        return None
    if isinstance(items, str):
        return f"{title}: {items}"
    return f"{title}:\n" + "\n".join(f"- {i}" for i in items)


def playbook_text(pb: dict[str, Any]) -> str:
    parts = [pb.get("title") or pb["problem_pattern"], f"Task type: {pb['task_type']}",
             f"Problem: {pb['problem_pattern']}",
             _section("Useful context", pb.get("useful_context")),
             _section("Model routing", pb.get("model_routing_path")),
             _section("Commands that worked", pb.get("commands_worked")),
             _section("Commands that failed", pb.get("commands_failed")),
             _section("Validation steps", pb.get("validation_steps")),
             _section("Files touched", pb.get("repo_files_touched")),
             _section("Recovery strategy", pb.get("recovery_strategy")),
             _section("Known failure modes", pb.get("known_failure_modes")),
             _section("Escalation threshold", pb.get("escalation_threshold")),
             _section("Acceptance criteria", pb.get("acceptance_criteria")),
             _section("Examples", pb.get("examples")),
             f"Success: {pb.get('success_count', 0)} of {pb.get('attempt_count', 0)} attempts"]
    return "\n\n".join(p for p in parts if p)


def playbook_chunks(pb: dict[str, Any], runs: list[str], provs: list[dict[str, Any]]) -> Iterator[Candidate]:
    """A playbook's chunks; ``runs`` are its accepted source runs, ``provs`` their records' provenance."""
    chunks = chunk_text(playbook_text(pb))
    for i, chunk in enumerate(chunks):
        yield _rag_row(
            f"pb:{pb['playbook_id']}:{i}", chunk, pb.get("title") or pb["problem_pattern"],
            sorted({*(pb.get("tags") or []), "kind:playbook"}), pb.get("task_type"), "playbook", runs,
            {"playbook_id": pb["playbook_id"], "chunk": i, "chunks": len(chunks),
             "success_rate": pb.get("success_rate"), "last_seen": pb.get("last_seen")},
            provs)
