"""The receipt trail of a collect: a killed run leaves a receipt saying so, and the next run says it resumed.

A collect commits its batches (and each file's offset) as it goes, so a run killed half-way loses
nothing and the next run reads on from the stored offsets. What was missing is the record of it: at
its start a collect now stores an *in-progress* receipt (``details.status = "running"``, its pid and
host), replaced by its final receipt when it ends. A running receipt whose process is gone is a run
that was interrupted: the next collect marks it ``interrupted`` and names it in its own receipt.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from mcp_distill.faults import pid_alive
from mcp_distill.receipts import ReceiptBuilder, save_receipt
from mcp_distill.receipts.repository import delete_receipt, find_receipt, replace_receipt, unresumed_collects
from mcp_distill.store import Store

RUNNING = "running"
INTERRUPTED = "interrupted"


def start(store: Store, command: str, files: int) -> str:
    """Store the in-progress receipt of a collect about to read ``files`` files; its id."""
    builder = ReceiptBuilder("collect", command)
    builder.warnings.append("in progress: if this receipt stays so, the collect was interrupted; the next "
                            "collect keeps what it committed and reads on from the stored offsets")
    builder.details.update({"status": RUNNING, "pid": os.getpid(), "host": socket.gethostname(), "files": files})
    receipt = builder.finish(None, validation_pass=False)
    save_receipt(store, receipt)
    return receipt.receipt_id


def finish(store: Store, running_id: str) -> None:
    """The collect ended (its final receipt is stored): its in-progress receipt goes."""
    delete_receipt(store, running_id)


def stopped(store: Store, running_id: str, reason: str) -> None:
    """The collect stopped on an error (a full disk...): its receipt says so, for the next run to resume."""
    receipt = find_receipt(store, running_id)
    if receipt is None:
        return
    receipt.details["status"] = INTERRUPTED
    receipt.errors.append(f"stopped: {reason}")
    replace_receipt(store, receipt)


def interrupted(store: Store, resumed_by: ReceiptBuilder) -> list[dict[str, Any]]:
    """Mark the collects that were killed (running receipt, process gone, this host) and name them in
    ``resumed_by``'s receipt; what was found."""
    host = socket.gethostname()
    found: list[dict[str, Any]] = []
    for receipt in unresumed_collects(store, (RUNNING, INTERRUPTED)):
        pid, where = receipt.details.get("pid"), receipt.details.get("host")
        if receipt.details["status"] == RUNNING:
            if where != host or not isinstance(pid, int) or pid == os.getpid() or pid_alive(pid):
                continue  # another host's or a live run: not ours to judge
            receipt.details["status"] = INTERRUPTED
            receipt.errors.append("interrupted: the process ended before the collect finished; the batches it "
                                  "committed were kept and the next collect read on from the stored offsets")
        receipt.details["resumed_by"] = resumed_by.command
        replace_receipt(store, receipt)
        found.append({"receipt_id": receipt.receipt_id, "started_at": receipt.started_at.isoformat(), "pid": pid})
    if found:
        resumed_by.details["resumed"] = found
        resumed_by.count("resumed_interrupted_collects", len(found))
        names = ", ".join(f"{f['receipt_id']} (started {f['started_at']})" for f in found)
        resumed_by.warnings.append(f"resumed after an interrupted collect: {names}; what it committed was kept "
                                   "and the rest was read from the stored offsets")
    return found


__all__ = ["INTERRUPTED", "RUNNING", "finish", "interrupted", "start", "stopped"]
