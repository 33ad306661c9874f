"""Scratchpad normalizer quality on notes written here (bench/data/scratchpad_notes.yaml).

Per field, precision / recall / F1 of the deterministic extraction against each note's expected
values, for the train split (rules may be shaped by it) and the held-out split (never tuned on):

- decisions: an expected key phrase is found when it occurs (case-insensitive) in an extracted
  decision; an extracted decision holding no expected phrase is a false positive.
- next_command: the exact command (white space folded); none expected and none given is no count.
- validation_status: a note whose status is not ``unknown`` (expected or extracted) counts: equal is a
  true positive, else a false negative (expected) and/or a false positive (extracted).
- paths: set comparison (a trailing ``/`` and a leading ``./`` ignored).

    .venv/bin/python bench/scratchpad.py            # prints the table, writes docs/benchmarks.md
    .venv/bin/python bench/scratchpad.py --misses   # also prints every miss
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import write_section  # noqa: E402
from mcp_distill.scratchpad.parse import summarize  # noqa: E402

NOTES = ROOT / "bench" / "data" / "scratchpad_notes.yaml"
FIELDS = ("decisions", "next_command", "validation_status", "paths")


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def scores(self) -> tuple[float, float, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _norm_path(path: str) -> str:
    return path.removeprefix("./").rstrip("/\\")


def score_note(note: dict, misses: list[str] | None = None) -> dict[str, Tally]:
    got = summarize(note["text"])
    want = note["expect"]
    out = {f: Tally() for f in FIELDS}

    def miss(field: str, what: str) -> None:
        if misses is not None:
            misses.append(f"{note['id']}: {field}: {what}")

    found = [d.lower() for d in got.decisions]
    for phrase in want.get("decisions") or []:
        if any(phrase.lower() in d for d in found):
            out["decisions"].tp += 1
        else:
            out["decisions"].fn += 1
            miss("decisions", f"missed {phrase!r} (got {got.decisions})")
    for d in got.decisions:
        if not any(p.lower() in d.lower() for p in want.get("decisions") or []):
            out["decisions"].fp += 1
            miss("decisions", f"extra {d!r}")

    expected_cmd = " ".join((want.get("next_command") or "").split()) or None
    got_cmd = " ".join((got.next_command or "").split()) or None
    if expected_cmd and got_cmd == expected_cmd:
        out["next_command"].tp += 1
    else:
        if expected_cmd:
            out["next_command"].fn += 1
        if got_cmd:
            out["next_command"].fp += 1
        if expected_cmd or got_cmd:
            miss("next_command", f"want {expected_cmd!r} got {got_cmd!r}")

    status_want, status_got = want.get("status", "unknown"), got.validation_status.status
    if status_want != "unknown" and status_want == status_got:
        out["validation_status"].tp += 1
    elif status_want != status_got:
        out["validation_status"].fn += status_want != "unknown"
        out["validation_status"].fp += status_got != "unknown"
        miss("validation_status", f"want {status_want} got {status_got} ({got.validation_status.checks})")

    want_paths = {_norm_path(p) for p in want.get("paths") or []}
    got_paths = {_norm_path(p) for p in got.important_paths}
    out["paths"].tp += len(want_paths & got_paths)
    out["paths"].fn += len(want_paths - got_paths)
    out["paths"].fp += len(got_paths - want_paths)
    if want_paths != got_paths:
        miss("paths", f"missed {sorted(want_paths - got_paths)} extra {sorted(got_paths - want_paths)}")
    return out


def evaluate(notes: list[dict], misses: list[str] | None = None) -> dict[str, Tally]:
    total = {f: Tally() for f in FIELDS}
    for note in notes:
        for field, tally in score_note(note, misses).items():
            total[field].tp += tally.tp
            total[field].fp += tally.fp
            total[field].fn += tally.fn
    return total


def load_notes(path: Path = NOTES) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["notes"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="print every miss")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    notes = load_notes()
    rows = ["| split | notes | field | precision | recall | F1 |", "|---|---|---|---|---|---|"]
    misses: list[str] = []
    for split in ("train", "heldout", "fresh"):
        part = [n for n in notes if n["split"] == split]
        for field, tally in evaluate(part, misses if args.misses else None).items():
            p, r, f1 = tally.scores()
            rows.append(f"| {split} | {len(part)} | {field} | {p:.3f} | {r:.3f} | {f1:.3f} |")
    table = "\n".join(rows)
    print(table)
    if args.misses:
        print("\n".join(misses))
    if not args.no_write:
        write_section("Scratchpad extraction (notes written here)",
                      f"{len(notes)} notes in `bench/data/scratchpad_notes.yaml`, written here in varied styles. "
                      "The rules were changed against the train split; the held-out split's misses were seen in the "
                      "baseline run before the changes (so it is not fully blind); the fresh split was written after "
                      "the changes and measured once: decisions F1 0.833, next_command 1.000, validation_status "
                      "0.833, paths 0.947 (misses: a clock time before 'we decided', 'I picked' mid-sentence, "
                      "gradle's summary, a bare 'exit status 0'); those four were then fixed in general form, giving "
                      "the table below. Before any change (baseline, same notes but fresh): decisions F1 0.36 / 0.31, "
                      "next_command 0 / 0, validation_status 0.58 / 0.63, paths 0.88 / 0.92 (train / held-out). "
                      "Command: `.venv/bin/python bench/scratchpad.py` (`--misses` lists every miss).\n\n" + table)


if __name__ == "__main__":
    main()
