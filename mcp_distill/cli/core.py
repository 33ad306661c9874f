"""The spine's commands: run, collect, score, runs, stats, quarantine, receipts, schemas, serve."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mcp_distill.cli.common import cli_state, command_group, emit, err, kv_table, out, progress_bar, table_of
from mcp_distill.collect.collector import collect_paths
from mcp_distill.collect.runs import get_run, list_runs
from mcp_distill.errors import InvalidInputError
from mcp_distill.models import Category
from mcp_distill.pipeline import run_pipeline
from mcp_distill.receipts import get_receipt, list_receipts, receipt_json
from mcp_distill.schema_files import SCHEMA_DIR, stale, write_all
from mcp_distill.score import score_runs
from mcp_distill.stats import quarantine_rows, store_stats

runs_app = command_group("List and show joined runs.")
receipts_app = command_group("List and show stage receipts.")
schemas_app = command_group("JSON Schema files generated from the pydantic models.")


REDACT_HELP = ("Redact every string before storing it, so the store never holds a secret (ids get stable "
               "placeholders; the receipt counts the redactions). The store remembers it: later collects into "
               "it redact too. Also MCP_DISTILL_REDACT_ON_COLLECT=1.")


def collect_table(summary: dict) -> Table:
    table = Table(title="collected")
    for col in ("file", "stream", "lines", "new", "dup", "quarantined"):
        table.add_column(col, justify="right" if col not in ("file", "stream") else "left")
    for f in summary["per_file"]:
        if f["lines"] or f["quarantined"]:
            table.add_row(Path(f["path"]).name, f["stream"] or "?", str(f["lines"]), str(f["inserted"]),
                          str(f["duplicates"]), str(f["quarantined"]))
    table.add_row("total", "", str(summary["lines"]), str(summary["inserted"]), str(summary["duplicates"]),
                  str(summary["quarantined"]), style="bold")
    return table


def run(
    ctx: typer.Context,
    paths: Annotated[list[str] | None, typer.Argument(help="Sources to collect (default: examples/lakehouse_kb "
                                                           "when present, else the roots given with --root or "
                                                           "MCP_DISTILL_ROOTS).")] = None,
    out_dir: Annotated[str, typer.Option("--out", help="Where the datasets are exported.")] = "exports",
    redact_on_collect: Annotated[bool, typer.Option(help=REDACT_HELP)] = False,
) -> None:
    """The main job: collect, score, extract and index playbooks, refresh the ledger, export datasets."""
    state = cli_state(ctx)
    state.settings.redact_on_collect |= redact_on_collect
    if not paths:
        example = Path("examples/lakehouse_kb")
        paths = [str(example)] if example.exists() else None
    with progress_bar("pipeline") as bar:
        result = run_pipeline(state.store, state.settings, state.rules(), state.embedder(), paths, progress=bar,
                              out_dir=out_dir, roots_by_default=False)
    if state.as_json:
        emit(state, result)
        return
    out.print(collect_table(result["collect"]))
    out.print(kv_table("pipeline", result["summary"]))

def collect(
    ctx: typer.Context,
    paths: Annotated[list[str] | None, typer.Argument(
        help="Files or folders. Without any, the roots given with --root or MCP_DISTILL_ROOTS are collected; "
             "the current folder is never collected unnamed (a checkout's schemas and fixtures are no "
             "evidence).")] = None,
    mapping: Annotated[list[str] | None, typer.Option(help="Declarative TOML mapping file for other streams "
                                                           "(repeatable; `mcp-distill mapping suggest FILE` writes "
                                                           "one).")] = None,
    infer: Annotated[bool, typer.Option(help="Read files no adapter or mapping claims with inferred field roles "
                                             "(stream 'inferred'); --no-infer quarantines their lines.")] = True,
    redact_on_collect: Annotated[bool, typer.Option(help=REDACT_HELP)] = False,
) -> None:
    """Collect JSONL/JSON evidence: incremental, idempotent; malformed lines are quarantined. Files of a format
    nothing recognises are read with inferred field roles (see the receipt for the mapping used)."""
    state = cli_state(ctx)
    with progress_bar("collect") as bar:
        result = collect_paths(state.store, state.settings, paths, mapping_files=mapping, progress=bar,
                                command="cli:collect", redact=redact_on_collect, infer=infer,
                                roots_by_default=False).as_dict()
    emit(state, result, collect_table(result))
    if result["redact_on_collect"]:
        err.print(f"redacted before storing: {sum(result['redactions'].values())} secret(s)")
    if not state.as_json:
        for warning in result["warnings"]:
            err.print(f"warning: {warning}", markup=False, soft_wrap=True)
    if result["quarantined"]:
        err.print(f"{result['quarantined']} line(s) quarantined: see `mcp-distill quarantine`")

def score(
    ctx: typer.Context,
    run_id: Annotated[str | None, typer.Argument(help="One run (default: every unscored run).")] = None,
    rescore: Annotated[bool, typer.Option(help="Score every run again (after a rules change).")] = False,
) -> None:
    """Deterministic scoring with the rules file (MCP_DISTILL_RULES / --rules)."""
    state = cli_state(ctx)
    with progress_bar("score") as bar:
        result = score_runs(state.store, state.rules(), run=run_id, rescore=rescore, progress=bar,
                            command="cli:score")
    emit(state, result, kv_table(f"scored ({result['scorer_version']})",
                                 {"runs scored": result["scored"], **result["by_category"]}))

@runs_app.command("list")
def runs_list(
    ctx: typer.Context,
    category: Annotated[Category | None, typer.Option(help="Only runs of this category.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
) -> None:
    """Runs with their join method and category."""
    state = cli_state(ctx)
    rows = list_runs(state.store, category=category, limit=limit)
    table = Table(title="runs")
    for col in ("run_key", "join", "task_type", "records", "category"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["run_key"], r["join_method"], r["task_type"] or "", str(r["record_count"]),
                      r["category"] or "(unscored)")
    emit(state, rows, table)

@runs_app.command("show")
def runs_show(ctx: typer.Context, run_id: Annotated[str, typer.Argument(help="run_id or run key")]) -> None:
    """One run: every record joined to it, with provenance, and its score and reasons."""
    state = cli_state(ctx)
    view = get_run(state.store, run_id)
    if state.as_json:
        emit(state, view)
        return
    out.print(f"[bold]{view['run_key']}[/] joined by {view['join_method']}; streams: {', '.join(view['streams'])}")
    for r in view["records"]:
        prov = r.get("provenance", {})
        out.print(f"  - {r['stream']:<22} {prov.get('source_file')}:{prov.get('line_offset')}")
    score_view = view["score"]
    if score_view:
        out.print(f"[bold]category:[/] {score_view['category']}  ({score_view['scorer_version']})")
        for reason in score_view["reasons"]:
            out.print(f"  * {reason}")
    else:
        out.print("not scored yet: run `mcp-distill score`")

def stats(ctx: typer.Context) -> None:
    """What the store holds."""
    state = cli_state(ctx)
    data = store_stats(state.store)
    flat = {k: v for k, v in data.items() if not isinstance(v, dict | list)}
    flat.update({f"category {k}": v for k, v in data["by_category"].items()})
    emit(state, data, kv_table("store", flat))

def quarantine(ctx: typer.Context, limit: Annotated[int, typer.Option(min=1)] = 50) -> None:
    """Quarantined lines: file, byte offset, reason and an excerpt."""
    state = cli_state(ctx)
    rows = quarantine_rows(state.store, limit)
    table = table_of("quarantine", ["file", "offset", "reason", "excerpt"],
                     [[r["source_file"], r["line_offset"], r["reason"], _one_line(r["excerpt"])] for r in rows])
    emit(state, rows, table)


def _one_line(text: str | None, width: int = 60) -> str:
    """An excerpt on one table line: newlines and tabs shown as spaces, cut to ``width``."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"

@receipts_app.command("list")
def receipts_list(
    ctx: typer.Context,
    stage: Annotated[str | None, typer.Option(help="Only this stage (collect, score, playbooks, ledger, export...).")]
    = None,
    limit: Annotated[int, typer.Option(min=1)] = 20,
) -> None:
    """Recent receipts."""
    state = cli_state(ctx)
    rows = list_receipts(state.store, stage, limit)
    table = Table(title="receipts")
    for col in ("receipt_id", "stage", "started_at", "valid"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["receipt_id"], r["stage"], r["started_at"], "yes" if r["validation_pass"] else "NO")
    emit(state, rows, table)

@receipts_app.command("show")
def receipts_show(ctx: typer.Context, receipt_id: str) -> None:
    """One receipt as JSON."""
    state = cli_state(ctx)
    out.print_json(receipt_json(get_receipt(state.store, receipt_id)).decode())

@schemas_app.command("generate")
def schemas_generate(directory: Path = SCHEMA_DIR) -> None:
    """Write schemas/*.json from the pydantic models."""
    for path in write_all(directory):
        out.print(f"wrote {path}")

@schemas_app.command("check")
def schemas_check(directory: Path = SCHEMA_DIR) -> None:
    """Exit 1 when a schema file is stale."""
    names = stale(directory)
    if names:
        raise InvalidInputError(f"stale schema files: {', '.join(names)}; run `mcp-distill schemas generate`")
    out.print("schemas are up to date")

def serve(
    ctx: typer.Context,
    http: Annotated[bool, typer.Option("--http", help="Streamable HTTP instead of stdio.")] = False,
    host: Annotated[str, typer.Option(help="HTTP bind address; anything but loopback needs MCP_DISTILL_TOKEN.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8765,
    path: Annotated[str, typer.Option(help="HTTP endpoint path.")] = "/mcp",
) -> None:
    """Serve the MCP tools: stdio (default, for Claude Code/Desktop and the Inspector) or --http."""
    from mcp_distill.server import DASHBOARD_PATH, serve_http, serve_stdio

    state = cli_state(ctx)
    if http:
        def announce(url: str) -> None:
            base = url.removesuffix(path)
            err.print(f"MCP over Streamable HTTP at {url} (dashboard at {base}{DASHBOARD_PATH}/; store "
                      f"{state.settings.db_path}); Ctrl-C stops it", highlight=False, soft_wrap=True)

        serve_http(state.settings, host=host, port=port, path=path, announce=announce)
    else:
        serve_stdio(state.settings)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command()(run)
    app.command()(collect)
    app.command()(score)
    app.command()(stats)
    app.command()(quarantine)
    app.command()(serve)
    app.add_typer(runs_app, name="runs")
    app.add_typer(receipts_app, name="receipts")
    app.add_typer(schemas_app, name="schemas")
