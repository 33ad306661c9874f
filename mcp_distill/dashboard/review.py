"""The review queue: runs that need a human decision, one at a time, and the decision form.

A decision goes through ``collect.live.decide_run``: recorded exactly as ``record_override`` records
it (a line appended to the store's live log, collected with provenance), then the run is rescored.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mcp_distill.collect.live import CATEGORIES, decide_run
from mcp_distill.collect.runs import RunQuery, query_runs
from mcp_distill.dashboard.pages import DECISIONS, int_param, run_context
from mcp_distill.dashboard.web import base_path, check_csrf, page, render
from mcp_distill.errors import InvalidInputError

QUEUE = "needs_human_review"
#: Longest note a reviewer may write: a reason, not a document (the live log refuses huge records).
MAX_NOTE = 4000


def _queue_page(request: Request, at: int, status: int = 200, error: str | None = None,
                note: str = "", done: dict[str, str] | None = None) -> Response:
    dash = request.app.state.dashboard
    rows, total = query_runs(dash.store, RunQuery(category=QUEUE, sort="time", descending=False, limit=1,
                                                  offset=at - 1))
    if not rows and total and at > total:  # past the end (the queue shrank): show the last one
        return _queue_page(request, total, status, error, note, done)
    context = run_context(dash, rows[0]["run_key"]) if rows else {}
    return render(request, "review.html", status, at=at, total=total, error=error, note=note, done=done,
                  decisions=DECISIONS, **context)


@page
def queue(request: Request) -> Response:
    done = None
    if request.query_params.get("done"):
        done = {"run_key": request.query_params["done"], "category": request.query_params.get("category", "")}
    return _queue_page(request, int_param(request, "at", 1), done=done)


async def decide(request: Request) -> Response:
    form = await request.form()
    # The store and the scorer are blocking: off the event loop, like the GET pages.
    return await run_in_threadpool(_decide, request, {k: str(v) for k, v in form.items()})


def _decide(request: Request, form: dict[str, str]) -> Response:
    @page
    def handle(request: Request) -> Response:
        check_csrf(request, form.get("csrf"))
        run_key, category, note = form.get("run_key", ""), form.get("category", ""), form.get("note", "")
        at = int(form["at"]) if form.get("at", "").isdigit() and int(form["at"]) > 0 else 1
        back_to = form.get("back") == "run"
        try:
            if not run_key:
                raise InvalidInputError("the form names no run: reload the review page")
            if category not in CATEGORIES:
                raise InvalidInputError("choose accept, partially accept or reject")
            if len(note) > MAX_NOTE:
                raise InvalidInputError(f"the note is {len(note)} characters; keep it under {MAX_NOTE}")
            dash = request.app.state.dashboard
            out = decide_run(dash.store, dash.rules, run_key, category, note, dash.reviewer_name(),
                             command="dashboard:review")
        except InvalidInputError as exc:
            if back_to:
                raise
            # Shown again with what the reviewer wrote: a refused decision loses nothing.
            return _queue_page(request, at, 400, error=str(exc), note=note)
        base = base_path(request)
        if back_to:
            return RedirectResponse(f"{base}/runs/{out['run_key']}", status_code=303)
        query = urlencode({"at": at, "done": out["run_key"], "category": out["category"] or ""})
        return RedirectResponse(f"{base}/review?{query}", status_code=303)

    return handle(request)


def routes() -> list[Route]:
    return [Route("/review", queue, name="review_queue"), Route("/review", decide, methods=["POST"])]
