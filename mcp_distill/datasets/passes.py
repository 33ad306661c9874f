"""What an export reads from the store, pass by pass, and the candidate rows each pass mines.

Pass 1 (:meth:`RunPasses.scan`) reads the scored runs a page of :data:`RUN_PAGE` at a time, by run key,
with their evidence records: SFT rows, RAG chunks, pairs inside one run; the runs that may pair with
other runs of their task go to a scratch SQLite file (:class:`mcp_distill.datasets.repository.PairScratch`).
Pass 2 (:meth:`RunPasses.cross_runs`) pairs them a task at a time. Then the playbooks' RAG chunks
(:meth:`RunPasses.playbooks`). Each candidate goes to ``emit``; what becomes of it (redaction, dedup,
files) is :class:`mcp_distill.datasets.build.Exporter`'s business.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from mcp_distill.collect import repository as collect_db
from mcp_distill.datasets import mine, preference, rag, sft
from mcp_distill.datasets.beir import BeirBuilder
from mcp_distill.datasets.repository import PairScratch
from mcp_distill.progress import Progress
from mcp_distill.search import repository as pb_db
from mcp_distill.store import Store

#: Runs read per query (their evidence comes in one query per page).
RUN_PAGE = 500
#: Source runs of a playbook whose provenance a playbook chunk carries.
PLAYBOOK_PROVENANCE = 8


class RunPasses:
    """The reading passes of one export over ``store``, for ``kinds``; candidates go to ``emit(kind, candidate)``,
    counters to ``stats``. ``records_read`` and ``scorer_versions`` are what the receipt reports."""

    def __init__(self, store: Store, kinds: list[str], stats: Counter[str], emit: Callable[[str, mine.Candidate], None],
                 beir: BeirBuilder | None, progress: Progress | None):
        self.store = store
        self.kinds = kinds
        self.stats = stats
        self.emit = emit
        self.beir = beir
        self.progress = progress
        self.records_read = 0
        self.scorer_versions: set[str] = set()

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
            self.records_read += len(rows)
            for r in page:
                self.scorer_versions.add(r["scorer_version"])
                yield mine.RunView(r["run_key"], r["category"], r["scorer_version"], by_run[r["run_key"]])
            done += len(page)
            if self.progress:
                self.progress(done, total, "runs")

    def _records_by_id(self, ids: list[str]) -> dict[str, mine.Rec]:
        return {rid: orjson.loads(data) for rid, data in collect_db.records_by_id(self.store, ids).items()}

    def scan(self, scratch: PairScratch) -> None:
        """Pass 1: SFT rows, RAG chunks, within-run pairs; cross-run candidates into ``scratch``."""
        pending: list[tuple[Any, ...]] = []
        for view in self.iter_runs():
            self.stats["runs_scanned"] += 1
            if "sft" in self.kinds and view.category == "accepted":
                cand, why = sft.sft_row(view)
                if cand is not None:
                    self.emit("sft", cand)
                else:
                    self.stats[f"sft_skipped_{why}"] += 1
            if self.beir is not None:
                self.beir.add_run(view)
            if "rag" in self.kinds:
                for cand in rag.evidence_chunks(view):
                    self.emit("rag", cand)
            if "preference" in self.kinds:
                for cand in preference.attempt_pairs(view):
                    self.stats["pairs_attempts_within_run"] += 1
                    self.emit("preference", cand)
                for cand, why in preference.consensus_pairs(view):
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
            if len(rows) > 4 * preference.MAX_PAIRS_PER_TASK:  # only the first runs of each side can be paired
                acc = [r for r in rows if r[1] == "accepted"][:preference.MAX_PAIRS_PER_TASK]
                rej = [r for r in rows if r[1] == "rejected"][:preference.MAX_PAIRS_PER_TASK]
                rows = acc + rej
            by_run = {r[2]: r for r in rows}
            pairs = preference.cross_run_pairs([r[2] for r in rows if r[1] == "accepted"],
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
                self.emit("preference", preference.pref_row(mine.user_turn(input_rec, chosen), chosen, rejected, source,
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
        for cand in rag.playbook_chunks(pb, runs, provs):
            self.emit("rag", cand)
