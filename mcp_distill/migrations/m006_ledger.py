"""Model Routing Ledger: per-run contributions, per (task_type, model) aggregates, change tracking.

``ledger_run`` holds what each (run, task_type, model) contributed, so a run whose evidence or
score changes is subtracted and re-added exactly; ``ledger_entry`` / ``ledger_failure`` /
``ledger_partner`` hold the summed state a read needs, so refreshing costs time in proportion to
the changed runs, not to the store.

Change tracking: new evidence is found by ``evidence.id`` above the high-water mark kept in
``ledger_state``. Changes that do not add evidence rows (a score written, re-written or deleted;
evidence moved to another run when the collector adopts a file-window run) are recorded by the
triggers below into ``ledger_dirty``: one cheap insert per changed score (a re-score that writes the
same category, reasons and votes adds nothing), none per new evidence row. Until a ledger has been
built (``ledger_state.generation`` is set when a build starts and kept through rebuilds) nothing is
recorded: the first refresh is a full build anyway, so a store that never uses the ledger pays nothing.
"""

from sqlite_utils import Database


def migrate(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE ledger_run (
            run_key TEXT NOT NULL,
            task_type TEXT NOT NULL,
            model_name TEXT NOT NULL,
            unit_key TEXT NOT NULL,       -- partner unit: the task_id group, else the run itself
            seq_epoch REAL,               -- the run's first model record: orders runs inside a unit
            position INTEGER NOT NULL,    -- first appearance of the model in the run's attempt sequence
            role TEXT NOT NULL,           -- primary / escalation / fallback
            outcome TEXT NOT NULL,        -- success / partial / failure / undecided
            cost_nano INTEGER,            -- the model's cost in this run, in 1e-9 USD (exact sums)
            latencies TEXT NOT NULL,      -- JSON list of per-call latency_ms samples
            reasons TEXT NOT NULL,        -- JSON list of failure reasons (failure / partial only)
            provider TEXT,
            updated_epoch REAL NOT NULL,  -- latest evidence time of the model in this run
            PRIMARY KEY (run_key, task_type, model_name)
        );
        CREATE INDEX ledger_run_unit ON ledger_run(unit_key) WHERE unit_key LIKE 'task%';
        CREATE INDEX ledger_run_entry ON ledger_run(task_type, model_name, updated_epoch);

        CREATE TABLE ledger_entry (
            task_type TEXT NOT NULL,
            model_name TEXT NOT NULL,
            runs INTEGER NOT NULL,          -- every run the model took part in (scored or not)
            sample_count INTEGER NOT NULL,  -- runs with a decisive score: accepted / partial / rejected
            success_count INTEGER NOT NULL,
            partial_count INTEGER NOT NULL,
            cost_runs INTEGER NOT NULL,
            cost_nano INTEGER NOT NULL,
            latency_n INTEGER NOT NULL,
            hist TEXT NOT NULL,             -- JSON {bin: count}, log-spaced latency bins
            roles TEXT NOT NULL,            -- JSON {role: runs}
            providers TEXT NOT NULL,        -- JSON {provider: runs}
            updated_epoch REAL,
            PRIMARY KEY (task_type, model_name)
        );

        CREATE TABLE ledger_failure (
            task_type TEXT NOT NULL,
            model_name TEXT NOT NULL,
            reason TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (task_type, model_name, reason)
        );

        CREATE TABLE ledger_partner (
            task_type TEXT NOT NULL,
            model_name TEXT NOT NULL,
            partner TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (task_type, model_name, partner)
        );

        CREATE TABLE ledger_dirty (
            seq INTEGER PRIMARY KEY,
            run_key TEXT NOT NULL
        );

        CREATE TABLE ledger_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );

        CREATE TRIGGER ledger_score_insert AFTER INSERT ON scores
        WHEN EXISTS (SELECT 1 FROM ledger_state WHERE key = 'generation')
        BEGIN INSERT INTO ledger_dirty(run_key) VALUES (new.run_key); END;
        CREATE TRIGGER ledger_score_update AFTER UPDATE ON scores
        WHEN EXISTS (SELECT 1 FROM ledger_state WHERE key = 'generation')
         AND (old.category IS NOT new.category OR old.reasons IS NOT new.reasons OR old.votes IS NOT new.votes
              OR old.run_key IS NOT new.run_key)
        BEGIN INSERT INTO ledger_dirty(run_key) VALUES (new.run_key); END;
        CREATE TRIGGER ledger_score_delete AFTER DELETE ON scores
        WHEN EXISTS (SELECT 1 FROM ledger_state WHERE key = 'generation')
        BEGIN INSERT INTO ledger_dirty(run_key) VALUES (old.run_key); END;
        CREATE TRIGGER ledger_evidence_move AFTER UPDATE OF run_key ON evidence
        WHEN EXISTS (SELECT 1 FROM ledger_state WHERE key = 'generation')
        BEGIN INSERT INTO ledger_dirty(run_key) VALUES (old.run_key), (new.run_key); END;
        CREATE TRIGGER ledger_evidence_delete AFTER DELETE ON evidence
        WHEN EXISTS (SELECT 1 FROM ledger_state WHERE key = 'generation')
        BEGIN INSERT INTO ledger_dirty(run_key) VALUES (old.run_key); END;
        """
    )
