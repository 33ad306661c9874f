"""Playbook commands: extract, show, search; and reindex after changing the embedder."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mcp_distill.cli.common import cli_state, command_group, emit, kv_table, out, progress_bar
from mcp_distill.models import Playbook
from mcp_distill.search import Mode, Strength, extract_playbooks, get_playbook, index_playbooks, search_playbooks
from mcp_distill.search import reindex as core_reindex

playbooks_app = command_group("Playbooks distilled from accepted runs.")

#: Playbook fields printed as bulleted lists by `playbooks show`, in reading order.
LIST_FIELDS = ("acceptance_criteria", "commands_worked", "commands_failed", "validation_steps", "repo_files_touched",
               "known_failure_modes", "model_routing_path", "useful_context", "examples", "source_run_ids")


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
def show(ctx: typer.Context,
         playbook_id: Annotated[str, typer.Argument(help="A playbook id (pb-...), as `playbooks search` lists.")]) -> None:
    """One playbook: pattern, success, what worked and failed, checks, files, failure modes (--json: as JSON)."""
    state = cli_state(ctx)
    pb = get_playbook(state.store, playbook_id)
    if state.as_json:
        emit(state, pb.model_dump(mode="json"))
        return
    print_playbook(pb)


def print_playbook(pb: Playbook) -> None:
    seen = f"; last seen {pb.last_seen:%Y-%m-%d}" if pb.last_seen else ""
    out.print(f"[bold]{pb.title or pb.problem_pattern}[/] ({pb.playbook_id})", highlight=False)
    out.print(f"task type {pb.task_type}; {pb.success_count}/{pb.attempt_count} runs accepted "
              f"({pb.success_rate:.0%}){seen}", highlight=False)
    out.print(f"pattern: {pb.problem_pattern}", highlight=False)
    for label, value in (("recovery", pb.recovery_strategy), ("escalation", pb.escalation_threshold),
                         ("tags", ", ".join(pb.tags))):
        if value:
            out.print(f"{label}: {value}", highlight=False)
    for name in LIST_FIELDS:
        items = getattr(pb, name)
        if items:
            out.print(f"\n[bold]{name.replace('_', ' ')}[/]")
            for item in items:
                out.print(f"  - {item}", highlight=False, soft_wrap=True)

@playbooks_app.command("search")
def search(
    ctx: typer.Context,
    words: Annotated[list[str], typer.Argument(help="The task in your own words, quoted or not (any text is safe).")],
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=50, help="How many playbooks.")] = 5,
    task_type: Annotated[str | None, typer.Option(help="Only this task type.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Required tag (repeatable: all must match).")] = None,
    mode: Annotated[Mode, typer.Option(help="hybrid (keyword + vectors, fused), keyword or semantic.")] = "hybrid",
    min_strength: Annotated[Strength, typer.Option(
        help="Leave out weaker hits: none (keep all), weak (default: drop non-matches) or strong.")] = "weak",
    since: Annotated[str | None, typer.Option(help="Only playbooks whose runs were last seen at or after this ISO-8601 "
                                                   "time (2026-04-01, 2026-04-01T10:00:00Z).")] = None,
    until: Annotated[str | None, typer.Option(help="Only playbooks last seen before this ISO-8601 time.")] = None,
    exact: Annotated[bool, typer.Option("--exact", help="Score every playbook by its exact vector (slower on a "
                                                        "large index; the default uses binary-code candidates).")] = False,
) -> None:
    """Hybrid search over playbooks; each hit shows its keyword and vector ranks and its match strength."""
    state = cli_state(ctx)
    query = " ".join(words)
    embedder = state.embedder() if mode != "keyword" else None
    found = search_playbooks(state.store, embedder, query, k=k, task_type=task_type, tags=tag, mode=mode,
                             min_strength=min_strength, since=since, until=until, exact=exact)
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
