"""Model Routing Ledger: task type x model aggregates and routing recommendations.

The faces and the pipeline use the names below (``routing``); behind them ``aggregate`` folds scored
runs into ledger rows, ``rules`` reads the routing rules, ``repository`` owns the ``model_ledger`` table.
"""

from mcp_distill.ledger.routing import Recommendation, ledger_entries, recommend, refresh_ledger

__all__ = ["Recommendation", "ledger_entries", "recommend", "refresh_ledger"]
