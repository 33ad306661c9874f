"""The collect package's tables: ``evidence``, ``runs``, ``sources``, ``quarantine``, and ``scores``.

A run's score is part of the run view (``score.py`` computes it, this module stores it): a run whose
evidence changes loses its score in the same transaction, and listings order and filter runs by it.

Every SQL statement about them is in this package: ``runs.py``, ``evidence.py``, ``scores.py`` and the
collector's ``ingest.py``; their names are exported here. Reads go through the store interface; the run-joining
statements take the writer connection the collector holds inside its transaction (``conn``), since
they run between its batched inserts.
"""

from mcp_distill.collect.repository.evidence import (
    collect_counts,
    evidence_at,
    evidence_by_id,
    max_evidence_id,
    model_evidence,
    quarantine_rows,
    records_at_lines,
    records_by_id,
    records_of_runs,
    run_record_data,
    source_files,
)
from mcp_distill.collect.repository.ingest import (
    advance_line_source,
    create_index,
    drop_index,
    insert_evidence,
    insert_quarantine,
    invalidate_scores,
    page_cache,
    record_document_source,
    secondary_evidence_indexes,
    source_row,
    stored_ids,
    stored_up_to,
    transaction,
    wal_autocheckpoint,
)
from mcp_distill.collect.repository.runs import (
    COMPLETIONS,
    DISTINCT_COLUMNS,
    RUN_FILTERS,
    RUN_ORDER,
    adopt_file_window_runs,
    change_token,
    distinct_values,
    list_runs,
    longest_span,
    models_and_streams,
    run_exists,
    run_keys,
    run_page,
    run_row,
    run_task_types,
    runs_with_evidence_between,
    spans_by_file,
    stored_run_in_window,
    upsert_runs,
    window_files,
)
from mcp_distill.collect.repository.scores import (
    categories_of,
    category_of,
    count_scored,
    delete_scores,
    get_score,
    run_keys_scored_by,
    save_scores,
    score_counts,
    scored_page,
    scored_run_keys_matching,
    scored_run_records,
    scores_of,
    unscored_count,
)

__all__ = [
    "COMPLETIONS", "DISTINCT_COLUMNS", "RUN_FILTERS", "RUN_ORDER", "adopt_file_window_runs", "advance_line_source",
    "categories_of", "category_of", "change_token", "collect_counts", "count_scored", "create_index", "delete_scores",
    "distinct_values", "drop_index", "evidence_at", "evidence_by_id", "get_score", "insert_evidence", "insert_quarantine",
    "invalidate_scores", "list_runs", "longest_span", "max_evidence_id", "model_evidence", "models_and_streams", "page_cache",
    "quarantine_rows", "record_document_source", "records_at_lines", "records_by_id", "records_of_runs", "run_exists",
    "run_keys", "run_keys_scored_by", "run_page", "run_record_data", "run_row", "run_task_types",
    "runs_with_evidence_between", "save_scores", "score_counts", "scored_page", "scored_run_keys_matching",
    "scored_run_records", "scores_of", "secondary_evidence_indexes", "source_files", "source_row", "spans_by_file", "stored_ids",
    "stored_run_in_window", "stored_up_to", "transaction", "unscored_count", "upsert_runs", "wal_autocheckpoint",
    "window_files",
]
