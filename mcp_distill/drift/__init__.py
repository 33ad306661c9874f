"""PRD Drift Comparator: claims in planning docs checked against a git revision.

The faces use the names below (``snapshots``: run a check, read and compare snapshots); behind them
``parse`` finds the claims, ``check`` and ``git`` test them against a revision, ``repository`` owns
the ``drift_snapshots`` table.
"""

from mcp_distill.drift.snapshots import compare_snapshots, get_snapshot, latest_snapshot, list_snapshots, run_drift

__all__ = ["compare_snapshots", "get_snapshot", "latest_snapshot", "list_snapshots", "run_drift"]
