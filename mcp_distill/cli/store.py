"""``mcp-distill store copy SRC DST``: move a whole store between backends (a thin face over store.copy)."""

from __future__ import annotations

from typing import Annotated

import typer

from mcp_distill.cli.common import cli_state, command_group, emit, kv_table
from mcp_distill.store import open_store
from mcp_distill.store.copy import copy_store, open_existing

store_app = command_group("Whole-store operations (SQLite file <-> PostgreSQL team server).")


@store_app.command("copy")
def copy(
    ctx: typer.Context,
    src: Annotated[str, typer.Argument(help="The store to read: a SQLite file or a postgresql:// URL.")],
    dst: Annotated[str, typer.Argument(help="An empty store to fill: a new SQLite path or a postgresql:// URL "
                                            "of an empty database.")],
) -> None:
    """Copy every table of SRC into the empty DST (SQLite -> PostgreSQL to promote a local knowledge
    base to the team server, or back), in one transaction, and store a receipt in DST. Afterwards run
    `mcp-distill --db DST playbooks extract` once to link documents to their (copied) embeddings."""
    state = cli_state(ctx)
    with open_existing(src) as source, open_store(dst) as target:
        receipt = copy_store(source, target, command=f"cli:store copy {source.path} {target.path}")
    emit(state, receipt.model_dump(mode="json"), kv_table("store copy", {
        "source": receipt.details["source"], "destination": receipt.details["destination"],
        **{f"rows {t}": n for t, n in receipt.details["tables"].items() if n},
        "receipt": receipt.receipt_id, "valid": receipt.validation_pass,
        **{f"warning {i + 1}": w for i, w in enumerate(receipt.warnings)},
    }))


def register(app: typer.Typer) -> None:
    app.add_typer(store_app, name="store")
