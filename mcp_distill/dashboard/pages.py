"""The read-only pages. Each handler reads query parameters, calls the core, renders a template:
no SQL and no business logic here (the queries live with their tables in the core packages)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mcp_distill.collect.runs import MAX_PAGE, RUN_SORTS, RunQuery, get_run, query_runs, run_filter_values
from mcp_distill.dashboard.web import Dashboard, page, render
from mcp_distill.datasets import export_rows_for_run, export_summaries
from mcp_distill.drift import compare_snapshots, get_snapshot, list_snapshots
from mcp_distill.errors import InvalidInputError, NotFoundError
from mcp_distill.ledger import ledger_entries, recommend
from mcp_distill.models import CLAIM_STATUSES
from mcp_distill.receipts import recent_receipts
from mcp_distill.search import list_playbooks, parse_time, playbook_task_types, playbooks_for_run, search_playbooks
from mcp_distill.stats import quarantine_rows, store_stats

PAGE_SIZE = 50
CATEGORY_CHOICES = ("accepted", "partially_accepted", "rejected", "needs_human_review", "unscored")
SEARCH_MODES = ("hybrid", "keyword", "semantic")
DECISIONS = [("accepted", "Accept"), ("partially_accepted", "Partially accept"), ("rejected", "Reject")]


def _dash(request: Request) -> Dashboard:
    return request.app.state.dashboard


def int_param(request: Request, name: str, default: int, low: int = 1, high: int = 10**9) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidInputError(f"{name} must be a whole number, not {raw[:40]!r}") from exc
    if not low <= value <= high:
        raise InvalidInputError(f"{name} must be between {low} and {high}, not {value}")
    return value


def choice_param(request: Request, name: str, choices: tuple[str, ...] | list[str] | dict[str, Any],
                 default: str | None = None) -> str | None:
    raw = request.query_params.get(name) or default
    if raw is not None and raw not in choices:
        raise InvalidInputError(f"{name} must be one of {', '.join(choices)}, not {raw[:40]!r}")
    return raw


def text_param(request: Request, name: str, limit: int = 500) -> str | None:
    raw = (request.query_params.get(name) or "").strip()
    if len(raw) > limit:
        raise InvalidInputError(f"{name} is longer than {limit} characters; shorten it")
    return raw or None


@page
def overview(request: Request) -> Response:
    store = _dash(request).store
    stats = store_stats(store)
    categories = [(c, stats["by_category"].get(c, 0)) for c in CATEGORY_CHOICES[:-1]]
    unscored = stats["runs"] - stats["scored_runs"]
    if unscored:
        categories.append(("unscored", unscored))
    return render(request, "overview.html", stats=stats, categories=categories,
                  receipts=recent_receipts(store, limit=8), quarantine=quarantine_rows(store, 20))


def _run_query(request: Request) -> tuple[RunQuery, int]:
    since = parse_time(text_param(request, "since"), "since")
    until = parse_time(text_param(request, "until"), "until")
    number = int_param(request, "page", 1)
    size = int_param(request, "size", PAGE_SIZE, 1, MAX_PAGE)
    query = RunQuery(category=choice_param(request, "category", CATEGORY_CHOICES),
                     task_type=text_param(request, "task_type"), model=text_param(request, "model"),
                     stream=text_param(request, "source"), since=since[1] if since else None,
                     until=until[1] if until else None, sort=choice_param(request, "sort", RUN_SORTS, "time") or "time",
                     descending=choice_param(request, "order", ("asc", "desc"), "desc") == "desc",
                     limit=size, offset=(number - 1) * size)
    return query, number


@page
def runs(request: Request) -> Response:
    store = _dash(request).store
    query, number = _run_query(request)
    rows, total = query_runs(store, query)
    params = {k: v for k, v in request.query_params.items() if k != "page" and v}
    pages = max(1, -(-total // query.limit))
    return render(request, "runs.html", rows=rows, total=total, number=number, pages=pages, params=params,
                  values=run_filter_values(store), categories=CATEGORY_CHOICES, sorts=list(RUN_SORTS),
                  query=query)


def run_context(dash: Dashboard, run: str) -> dict[str, Any]:
    """What the run page and the review queue show of one run."""
    view = get_run(dash.store, run)
    history = [r for r in view["records"] if r.get("human_override")]
    return {"run": view, "history": history, "playbooks": playbooks_for_run(dash.store, view["run_key"]),
            "exported": export_rows_for_run(dash.store, view["run_key"])}


@page
def run_detail(request: Request) -> Response:
    context = run_context(_dash(request), request.path_params["run_key"])
    return render(request, "run.html", page="runs", decisions=DECISIONS, at=1, **context)


@page
def playbooks(request: Request) -> Response:
    dash = _dash(request)
    q = text_param(request, "q")
    task_type = text_param(request, "task_type")
    mode = choice_param(request, "mode", SEARCH_MODES, "hybrid") or "hybrid"
    context: dict[str, Any] = {"q": q, "task_type": task_type, "mode": mode, "modes": SEARCH_MODES,
                               "task_types": playbook_task_types(dash.store)}
    if q:
        embedder = dash.embedder() if mode != "keyword" else None
        context["found"] = search_playbooks(dash.store, embedder, q, k=20, task_type=task_type, mode=mode)
    else:
        number = int_param(request, "page", 1)
        books, total = list_playbooks(dash.store, task_type, PAGE_SIZE, (number - 1) * PAGE_SIZE)
        context.update(books=books, total=total, number=number, pages=max(1, -(-total // PAGE_SIZE)))
    return render(request, "playbooks.html", **context)


@page
def ledger(request: Request) -> Response:
    store = _dash(request).store
    only = text_param(request, "task_type")
    entries = ledger_entries(store, task_type=only)
    task_types = sorted({e.task_type for e in entries})
    models = sorted({e.model_name for e in entries})
    cells = {(e.task_type, e.model_name): e for e in entries}
    advice: dict[str, Any] = {}
    for task_type in task_types:
        try:
            advice[task_type] = recommend(store, task_type, refresh=False)
        except NotFoundError as exc:
            advice[task_type] = str(exc)
    return render(request, "ledger.html", entries=entries, task_types=task_types, models=models, cells=cells,
                  advice=advice, only=only)


@page
def drift(request: Request) -> Response:
    store = _dash(request).store
    snapshots = list_snapshots(store, limit=30)
    context: dict[str, Any] = {"snapshots": snapshots, "statuses": CLAIM_STATUSES, "selected": None,
                               "comparison": None}
    if snapshots:
        ids = [s["snapshot_id"] for s in snapshots]
        chosen = choice_param(request, "snapshot", ids, ids[0])
        snap = get_snapshot(store, chosen or ids[0])
        context["selected"] = snap
        context["by_status"] = {s: [c for c in snap.claims if c.status == s] for s in CLAIM_STATUSES}
        base = choice_param(request, "base", ids, ids[1] if len(ids) > 1 else None)
        head = choice_param(request, "head", ids, ids[0])
        if base and head and base != head:
            context["comparison"] = compare_snapshots(store, base, head)
        context.update(base_id=base, head_id=head)
    return render(request, "drift.html", **context)


@page
def datasets(request: Request) -> Response:
    return render(request, "datasets.html", exports=export_summaries(_dash(request).store, limit=10))


def routes() -> list[Route]:
    return [Route("/", overview), Route("/runs", runs), Route("/runs/{run_key:path}", run_detail),
            Route("/playbooks", playbooks), Route("/ledger", ledger), Route("/drift", drift),
            Route("/datasets", datasets)]
