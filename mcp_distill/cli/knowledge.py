"""Playbook commands: extract, show, search; and reindex after changing the embedder."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mcp_distill.cli.common import cli_state, emit, kv_table, out, progress_bar
from mcp_distill.search.index import reindex as core_reindex
from mcp_distill.search.playbooks import extract_playbooks, get_playbook, index_playbooks, search_playbooks

playbooks_app = typer.Typer(help="Playbooks distilled from accepted runs.", no_args_is_help=True)


@playbooks_app.command("extract")
def extract(ctx: typer.Context) -> None:
    """Rebuild playbooks from the scored runs and update their search index."""
    state = cli_state(ctx)
    with progress_bar("playbooks") as bar:
        result = extract_playbooks(state.store, progress=bar, command="cli:playbooks extract")
        result["index"] = index_playbooks(state.store, state.embedder(), progress=bar)
    emit(state, result, kv_table("playbooks", {"runs read": result["runs"], "groups": result["groups"],
                                               "playbooks": result["playbooks"],
                                               "removed": len(result["removed"]),
                                               "embedded": result["index"]["embedded"]}))

@playbooks_app.command("show")
def show(ctx: typer.Context, playbook_id: str) -> None:
    """One playbook as JSON."""
    state = cli_state(ctx)
    pb = get_playbook(state.store, playbook_id)
    if state.as_json:
        emit(state, pb.model_dump(mode="json"))
    else:
        out.print_json(pb.model_dump_json())

@playbooks_app.command("search")
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="The task in your own words (any text is safe).")],
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=50, help="How many playbooks.")] = 5,
    task_type: Annotated[str | None, typer.Option(help="Only this task type.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Required tag (repeatable: all must match).")] = None,
    mode: Annotated[str, typer.Option(help="hybrid, keyword or semantic.")] = "hybrid",
    min_strength: Annotated[str, typer.Option(
        help="Leave out weaker hits: none (keep all), weak (default: drop non-matches) or strong.")] = "weak",
) -> None:
    """Hybrid search over playbooks; each hit shows its keyword and vector ranks and its match strength."""
    state = cli_state(ctx)
    embedder = state.embedder() if mode != "keyword" else None
    found = search_playbooks(state.store, embedder, query, k=k, task_type=task_type, tags=tag, mode=mode,
                             min_strength=min_strength)
    table = Table(title=f"playbooks for: {query}")
    for col in ("#", "playbook", "title", "score", "kw rank", "vec rank", "match", "accepted"):
        table.add_column(col)
    for n, hit in enumerate(found.hits, 1):
        pb = hit.playbook
        table.add_row(str(n), pb.playbook_id, pb.title, f"{hit.score:.4f}", str(hit.keyword_rank or "-"),
                      str(hit.vector_rank or "-"), f"{hit.match} {hit.strength:.2f}",
                      f"{pb.success_count}/{pb.attempt_count}")
    emit(state, found.model_dump(mode="json"), table)
    if not state.as_json:  # the JSON carries them; extra lines would corrupt it
        for warning in found.warnings:
            out.print(f"[yellow]note:[/] {warning}")

def reindex(ctx: typer.Context) -> None:
    """Rebuild every vector with the configured embedder (after changing MCP_DISTILL_EMBEDDER/_MODEL)."""
    state = cli_state(ctx)
    with progress_bar("reindex") as bar:
        n = core_reindex(state.store, state.embedder(), progress=bar)
    out.print(f"re-embedded {n} documents with {state.embedder().model_id}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command()(reindex)
    app.add_typer(playbooks_app, name="playbooks")
