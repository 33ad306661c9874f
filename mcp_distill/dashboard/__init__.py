"""The dashboard: a read-mostly web face over the store (overview, runs, playbooks, ledger, drift,
datasets) and the human review queue. Server-rendered Starlette + Jinja2, inline SVG, no script."""

from mcp_distill.dashboard.app import dashboard_app
from mcp_distill.dashboard.web import Dashboard

__all__ = ["Dashboard", "dashboard_app"]
