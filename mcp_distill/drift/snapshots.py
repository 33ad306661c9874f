"""PRD Drift Comparator: check what the PRD and phase docs claim has shipped against a git revision.

Public API (the MCP tool, resources and CLI are thin faces over these):

- :func:`run_drift` (store, settings, prd_path, repo_path, rev='HEAD', compare_to=None) -> DriftReport
- :func:`get_snapshot` (store, snapshot_id), :func:`latest_snapshot` (store), :func:`list_snapshots`
- :func:`compare_snapshots` (store, base_id, head_id) -> DriftComparison

Reading the docs (:mod:`mcp_distill.drift.parse`)
    ``prd_path`` is one markdown file or a folder of them (``*.md``, ``*.markdown``, ``*.mdx``, at any
    depth, hidden folders included, ``.git`` / ``node_modules`` skipped).

    Phases: a heading like ``Phase 12``, ``Milestone 3``, ``Sprint 4`` or a numbered section (``## 3. API``).
    A claim belongs to the nearest such heading above it; without one, to its nearest heading. A table
    row whose first cell is ``Phase N`` belongs to that phase.

    Claims: a checkbox item (``- [x]`` ticked = asserted; ``- [ ]`` = open, still checked, never fake);
    a bullet or a table row that says shipped / done / implemented / landed / completed / ✅ (asserted),
    unless negated (``not yet implemented``, ``to be done``, ``TODO``, ❌). A claim includes everything
    indented under it (its ``File:`` lines, sub-bullets); fenced code is never read for references.

    References, from code spans, markdown links and bare text:
      file / folder / glob: a path with a known extension or a trailing ``/``; bare text only when it
        contains a ``/``. It may be written relative to any folder: it matches any tree path ending with
        it. Absolute paths, ``~``, ``..`` and build output (``dist/``, ``node_modules/``...) are not
        checkable and are skipped.
      test: a test file name (``test_x.py``, ``x.test.ts``...) or a test function (``test_x``, ``TestX``).
      symbol: a code span that is clearly code: snake_case, camelCase, CONST_CASE, ``name()``,
        ``Type::name``, ``a.b.camelName``, ``path.py::name``. Plain words (`draft`, `Webhook`) are not.
      endpoint: ``/v1/...`` or ``/api/...``, or ``METHOD /path``.
      commit: a 7-40 hex code span (letters and digits), or ``commit abc1234`` in text.
    A reference on a line starting "Remove" / "Delete", before the arrow of a "Rename a -> b" line, or in
    a claim whose own line deletes files ("Delete old JS scripts"), must be ABSENT at the revision.

Checking (:mod:`mcp_distill.drift.check`), at the revision's commit, without touching the working tree
    file: ``git ls-tree``; symbol: ``git grep -E`` for ``def|class|fn|func|function|const|let|var|struct|
    enum|trait|interface|type|impl|model|... NAME`` or a ``NAME = ...`` / ``NAME: T`` line; endpoint:
    fixed-string ``git grep`` (also in the ``:id`` / ``{id}`` / ``<id>`` spellings); test function: a
    definition or a file named after it; commit: exists and is an ancestor of the revision. Symbol and
    endpoint searches exclude prose (``*.md``, ``*.rst``, ``*.txt``...) so a doc cannot verify itself.

Status rules
    verified = every reference holds; partial = some do; missing = none does; unverifiable = the claim
    names nothing checkable. fake = an asserted claim (ticked box / 'shipped' statement) that is missing,
    as the seed's phase_sweep_findings count them; per phase the snapshot counts claims_verified /
    claims_partial / claims_fake / claims_unverifiable over asserted claims, and claims_open.

Snapshots and comparisons
    A snapshot is keyed by (PRD sha256, repo commit sha, doc names, checker version); running again on the
    same state returns the stored snapshot without re-checking (``cached=True``). A claim's identity across
    snapshots is ``claim_key`` = hash(doc, phase, normalised claim text; numbering and markup removed), so a
    comparison lines claims up even when their references or tick changed. ``compare_to`` is a snapshot id
    or a revision of the same repo (checked, cached, with the same PRD).

Limits: :data:`MAX_PRD_BYTES` per doc, :data:`MAX_TOTAL_PRD_BYTES` and :data:`MAX_DOCS` per PRD folder;
git calls are bounded by ``drift_check.GIT_TIMEOUT_S`` and ``MAX_GIT_OUTPUT_BYTES``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from mcp_distill.config import Settings
from mcp_distill.drift import repository as drift_db
from mcp_distill.drift.check import check_claims
from mcp_distill.drift.git import GitRepo, open_repo
from mcp_distill.drift.parse import parse_markdown
from mcp_distill.drift.repository import list_snapshots
from mcp_distill.errors import DistillError, InvalidInputError, NotFoundError
from mcp_distill.models import (
    ClaimChange,
    ClaimResult,
    DocDigest,
    DriftComparison,
    DriftReport,
    DriftSnapshot,
    PhaseSummary,
)
from mcp_distill.receipts import ReceiptBuilder, now_utc
from mcp_distill.store import Store

#: Bump when parsing or checking rules change: cached snapshots of older rules are then not reused.
CHECKER_VERSION = "drift-1"
MAX_PRD_BYTES = 5 * 1024 * 1024
MAX_TOTAL_PRD_BYTES = 20 * 1024 * 1024
MAX_DOCS = 500
DOC_SUFFIXES = (".md", ".markdown", ".mdx")
SKIP_FOLDERS = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__"})
STAGE = "drift"
_RANK = {"verified": 3, "partial": 2, "missing": 1}

Doc = tuple[str, Path, bytes]


def _read_doc(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        data = path.read_bytes() if size <= MAX_PRD_BYTES else b""
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}; check that it is a readable file") from exc
    if size > MAX_PRD_BYTES:
        raise InvalidInputError(
            f"{path} is {size} bytes, over the {MAX_PRD_BYTES}-byte limit for one PRD doc; "
            "point at the PRD or phase docs themselves, or split the file"
        )
    try:
        if b"\0" in data[:8192]:
            raise UnicodeDecodeError("utf-8", data[:1], 0, 1, "NUL byte")
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{path} is not UTF-8 text (binary?); pass a markdown PRD or a folder of .md docs"
        ) from exc
    return data


def read_prd(settings: Settings, prd_path: str | Path) -> tuple[Path, list[Doc]]:
    """The PRD file, or every markdown doc under the PRD folder: (name, path, bytes), sorted by name."""
    root = settings.check_path(prd_path)
    if not root.exists():
        raise NotFoundError(f"PRD {prd_path} does not exist; pass a markdown file or a folder of them")
    if root.is_file():
        return root, [(root.name, root, _read_doc(root))]
    files = sorted(
        p for p in root.rglob("*")
        if p.suffix.lower() in DOC_SUFFIXES and p.is_file()
        and not SKIP_FOLDERS.intersection(p.relative_to(root).parts[:-1])
    )
    if not files:
        raise NotFoundError(f"no markdown docs (*.md) under {root}; pass the PRD file or the folder holding it")
    if len(files) > MAX_DOCS:
        raise InvalidInputError(
            f"{root} holds {len(files)} markdown docs, over the limit of {MAX_DOCS}; point at the PRD folder only"
        )
    docs: list[Doc] = []
    total = 0
    for p in files:
        resolved = settings.check_path(p)  # a symlink may lead outside the roots
        data = _read_doc(resolved)
        total += len(data)
        if total > MAX_TOTAL_PRD_BYTES:
            raise InvalidInputError(
                f"the docs under {root} exceed {MAX_TOTAL_PRD_BYTES} bytes together; point at the PRD folder only"
            )
        docs.append((p.relative_to(root).as_posix(), resolved, data))
    return root, docs


def _digests(root: Path, docs: list[Doc]) -> tuple[str, list[DocDigest]]:
    digests = [DocDigest(path=name, sha256=hashlib.sha256(data).hexdigest(), bytes=len(data)) for name, _, data in docs]
    if root.is_file():
        return digests[0].sha256, digests
    manifest = "".join(f"{d.path}\0{d.sha256}\n" for d in digests)
    return hashlib.sha256(manifest.encode()).hexdigest(), digests


def snapshot_id_for(prd_sha256: str, doc_names: list[str], repo_sha: str) -> str:
    basis = "\x1f".join([prd_sha256, *doc_names, repo_sha, CHECKER_VERSION])
    return "drift-" + hashlib.sha256(basis.encode()).hexdigest()[:20]


def _summaries(results: list[ClaimResult]) -> tuple[dict[str, int], list[PhaseSummary]]:
    totals = {k: 0 for k in ("claims", "asserted", "open", "verified", "partial", "missing", "unverifiable",
                             "fake", "references")}
    phases: dict[tuple[str, str], dict[str, int]] = {}
    for r in results:
        c = r.claim
        totals["claims"] += 1
        totals[r.status] += 1
        totals["references"] += len(c.references)
        totals["asserted"] += c.asserted
        totals["fake"] += r.fake
        totals["open"] += c.checked is False
        row = phases.setdefault((c.doc, c.phase), dict.fromkeys(
            ("claims", "claims_verified", "claims_partial", "claims_fake", "claims_unverifiable", "claims_open"), 0))
        row["claims"] += 1
        row["claims_open"] += c.checked is False
        if c.asserted:
            name = {"verified": "claims_verified", "partial": "claims_partial", "missing": "claims_fake",
                    "unverifiable": "claims_unverifiable"}[r.status]
            row[name] += 1
    return totals, [PhaseSummary(doc=d, phase=p, **row) for (d, p), row in phases.items()]


def get_snapshot(store: Store, snapshot_id: str) -> DriftSnapshot:
    snap = drift_db.find_snapshot(store, snapshot_id)
    if snap is None:
        raise NotFoundError(
            f"no drift snapshot {snapshot_id!r}; run prd_drift first, or see distill://drift/latest for the newest",
            cli=f"no drift snapshot {snapshot_id!r}; list them with `mcp-distill drift list`, or make one with "
                "`mcp-distill drift check PRD REPO`")
    return snap


def latest_snapshot(store: Store) -> DriftSnapshot:
    """The snapshot most recently produced or re-requested by run_drift."""
    snapshot_id = drift_db.latest_snapshot_id(store)
    if snapshot_id is None:
        raise NotFoundError("no drift snapshot yet; run prd_drift first",
                            cli="no drift snapshot yet; make one with `mcp-distill drift check PRD REPO` first")
    return get_snapshot(store, snapshot_id)


def _held(result: ClaimResult) -> dict[str, bool]:
    return {
        f"{'absent ' if e.reference.expect_absent else ''}{e.reference.kind}:{e.reference.target}": e.found
        for e in result.evidence
    }


def _change(before: ClaimResult | None, after: ClaimResult | None) -> ClaimChange:
    ref = after or before
    assert ref is not None
    b = _held(before) if before else {}
    a = _held(after) if after else {}
    return ClaimChange(
        claim_key=ref.claim.claim_key, doc=ref.claim.doc, phase=ref.claim.phase, text=ref.claim.text,
        status_before=before.status if before else None, status_after=after.status if after else None,
        lost=[k for k, ok in b.items() if ok and not a.get(k, False)] if after else [],
        gained=[k for k, ok in a.items() if ok and not b.get(k, False)] if before else [],
    )


def compare(base: DriftSnapshot, head: DriftSnapshot) -> DriftComparison:
    """Claims that broke, became verified, appeared, disappeared or otherwise changed from base to head."""
    out = DriftComparison(base_id=base.snapshot_id, head_id=head.snapshot_id, base_sha=base.repo_sha,
                          head_sha=head.repo_sha)
    before = {r.claim.claim_key: r for r in base.claims}
    after_keys = set()
    for h in head.claims:
        key = h.claim.claim_key
        after_keys.add(key)
        b = before.get(key)
        if b is None:
            out.appeared.append(_change(None, h))
            continue
        change = _change(b, h)
        if b.status == h.status and not change.lost and not change.gained and b.claim.asserted == h.claim.asserted:
            out.unchanged += 1
        elif h.status == "verified" and b.status != "verified":
            out.newly_verified.append(change)
        elif b.status in _RANK and h.status in _RANK and _RANK[h.status] < _RANK[b.status]:
            out.newly_broken.append(change)
        else:
            out.other_changes.append(change)
    out.disappeared = [_change(b, None) for key, b in before.items() if key not in after_keys]
    return out


def compare_snapshots(store: Store, base_id: str, head_id: str) -> DriftComparison:
    return compare(get_snapshot(store, base_id), get_snapshot(store, head_id))


def _snapshot_at(
    store: Store, repo: GitRepo, repo_sha: str, rev: str, root: Path, docs: list[Doc], builder: ReceiptBuilder
) -> tuple[DriftSnapshot, bool]:
    prd_sha, digests = _digests(root, docs)
    snap_id = snapshot_id_for(prd_sha, [d.path for d in digests], repo_sha)
    if drift_db.snapshot_exists(store, snap_id):
        drift_db.touch_snapshot(store, snap_id, now_utc().isoformat())
        return get_snapshot(store, snap_id), True
    claims = [c for name, _, data in docs for c in parse_markdown(data.decode("utf-8"), name)]
    results, warnings = check_claims(repo, repo_sha, claims)
    builder.warnings.extend(warnings)
    totals, phases = _summaries(results)
    snap = DriftSnapshot(
        snapshot_id=snap_id, prd_path=str(root), prd_sha256=prd_sha, docs=digests, repo_path=str(repo.path),
        rev=rev, repo_sha=repo_sha, checker_version=CHECKER_VERSION, created_at=now_utc(), totals=totals,
        phases=phases, claims=results,
    )
    drift_db.save_snapshot(store, snap, now_utc().isoformat())
    return snap, False


def run_drift(
    store: Store, settings: Settings, prd_path: str | Path, repo_path: str | Path, rev: str = "HEAD",
    compare_to: str | None = None,
) -> DriftReport:
    """Check every claim of the PRD at ``rev`` of the repo, store the snapshot, optionally compare.

    Every call writes a receipt (failed ones too, with the error); bad input raises InvalidInputError,
    NotFoundError or PathNotAllowedError with a message saying what to pass instead.
    """
    command = f"prd_drift prd_path={prd_path} repo_path={repo_path} rev={rev}"
    builder = ReceiptBuilder(STAGE, command + (f" compare_to={compare_to}" if compare_to else ""))
    try:
        root, docs = read_prd(settings, prd_path)
        for _, path, _ in docs:
            builder.add_input(path)
        repo_dir = settings.check_path(repo_path)
        repo = open_repo(repo_dir)
        sha = repo.resolve(rev)
        snap, cached = _snapshot_at(store, repo, sha, rev, root, docs, builder)
        comparison = None
        if compare_to:
            base = _base_snapshot(store, repo, compare_to, root, docs, builder)
            comparison = compare(base, snap)
        # The stored form must read back as the schema: that is this stage's validation.
        DriftSnapshot.model_validate_json(snap.model_dump_json())
    except DistillError as exc:
        builder.errors.append(str(exc))
        builder.finish(store, validation_pass=False)
        raise
    builder.count_in = snap.totals.get("claims", 0)
    builder.count_out = 0 if cached else len(snap.claims)
    for key in ("verified", "partial", "missing", "unverifiable", "fake", "open"):
        builder.count(key, snap.totals.get(key, 0))
    builder.details.update(snapshot_id=snap.snapshot_id, repo_sha=snap.repo_sha, rev=rev, cached=cached,
                           repo_path=str(repo_dir))
    if comparison is not None:
        builder.details["comparison"] = {
            "base_id": comparison.base_id, "newly_broken": len(comparison.newly_broken),
            "newly_verified": len(comparison.newly_verified), "appeared": len(comparison.appeared),
            "disappeared": len(comparison.disappeared), "other_changes": len(comparison.other_changes),
        }
    if cached:
        builder.warnings.append(f"snapshot {snap.snapshot_id} already existed for this PRD and commit: reused")
    if not snap.claims:
        builder.warnings.append("no claims found: no checkboxes and no 'shipped / done / implemented' statements")
    receipt = builder.finish(store, validation_pass=True)
    return DriftReport(snapshot=snap, comparison=comparison, receipt_id=receipt.receipt_id, cached=cached)


def _base_snapshot(
    store: Store, repo: GitRepo, compare_to: str, root: Path, docs: list[Doc], builder: ReceiptBuilder
) -> DriftSnapshot:
    """``compare_to`` as a stored snapshot id, else as a revision of the same repo (same PRD)."""
    if drift_db.snapshot_exists(store, compare_to):
        return get_snapshot(store, compare_to)
    if compare_to.startswith("drift-"):
        raise NotFoundError(f"no drift snapshot {compare_to!r}; list the stored ones with `mcp-distill drift list`, "
                            "or pass a git revision")
    try:
        sha = repo.resolve(compare_to)
    except NotFoundError as exc:
        what = f"is neither a stored snapshot id nor a revision of {repo.path}; pass a snapshot id (drift-...) " \
               "or a commit, branch or tag"
        raise NotFoundError(f"compare_to {compare_to!r} {what}", cli=f"--compare-to {compare_to!r} {what}") from exc
    snap, _ = _snapshot_at(store, repo, sha, compare_to, root, docs, builder)
    return snap


__all__ = ["compare", "compare_snapshots", "get_snapshot", "latest_snapshot", "list_snapshots", "read_prd", "run_drift",
           "snapshot_id_for"]
