"""PRD drift: claims parsed from markdown, checked with real git in tmp_path, stored, compared."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from conftest import PROJECT, SHARED, shared_path

from mcp_distill.config import Settings
from mcp_distill.drift import snapshots as drift
from mcp_distill.drift.check import endpoint_variants
from mcp_distill.drift.git import validate_rev
from mcp_distill.drift.parse import claim_key, extract_references, parse_markdown
from mcp_distill.drift.snapshots import compare_snapshots, get_snapshot, latest_snapshot, list_snapshots, run_drift
from mcp_distill.errors import InvalidInputError, NotFoundError, PathNotAllowedError
from mcp_distill.models.drift import CLAIM_STATUSES, DriftSnapshot
from mcp_distill.receipts import get_receipt, list_receipts
from mcp_distill.store import Store

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Drift Test", "GIT_AUTHOR_EMAIL": "drift@example.invalid",
    "GIT_COMMITTER_NAME": "Drift Test", "GIT_COMMITTER_EMAIL": "drift@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
}


def git(repo: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ENV
    out = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", "-C", str(repo), *args],
        capture_output=True, text=True, env=env, check=True,
    )
    return out.stdout.strip()


def make_repo(repo: Path, files: dict[str, str]) -> str:
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q")
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(db_path=tmp_path / "distill.db", roots=[tmp_path, SHARED])


CODE = {
    "src/app/core.py": "MAX_ITEMS = 5\n\n\ndef parse_claims(text):\n    return []\n\n\nclass DriftEngine:\n    pass\n",
    "src/app/server.py": 'ROUTES = {"/v1/chat": None, "/api/items/{item_id}": None}\n',
    "src/app/util.py": "def slugify(text):\n    return text\n",
    "tests/test_core.py": "def test_parse_claims():\n    assert True\n",
    # Prose mentioning an endpoint: it must not count as the endpoint being served.
    "docs/NOTES.md": "We plan `/v2/stream` and `def export_rows` someday.\n",
}

PRD = """# Product requirements

Intro text that says nothing is done.

## Phase 1: Core

- [x] 1.1 Parser shipped in `src/app/core.py` with `parse_claims()` and `DriftEngine`
- [x] 1.2 Chat endpoint `/v1/chat` served by `src/app/server.py`
- [x] 1.3 Exporter in `src/app/export.py` with `export_rows()`
  - Streams `/v2/stream` too
- [x] 1.4 Limits: `MAX_ITEMS` and `MAX_BYTES` in `src/app/core.py`
- [x] 1.5 Team agreed on naming conventions
- [ ] 1.6 Streaming in `src/app/stream.py`
- [x] 1.7 Helpers in place
  - File: `src/app/util.py`
- [x] 1.8 Delete old legacy module file
  - Remove: `src/app/legacy.py`

```markdown
- [x] A fenced example is not a claim: `src/app/nowhere.py`
```

## Phase 2: API

| Feature | Status | Where |
|---------|--------|-------|
| Item API | shipped | `GET /api/items/:item_id` |
| Search | planned | `src/app/search.py` |

- Tests landed: `tests/test_core.py::test_parse_claims`
- Release landed at commit {sha}
- Export is not yet implemented in `src/app/export.py`
"""


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path, str]:
    repo = tmp_path / "repo"
    sha = make_repo(repo, CODE)
    prd = tmp_path / "prd" / "PRD.md"
    prd.parent.mkdir()
    prd.write_text(PRD.replace("{sha}", sha))
    return repo, prd, sha


# --- the known-claims repo -------------------------------------------------------------------------


def test_every_claim_gets_its_status_and_evidence(store: Store, settings: Settings, project) -> None:
    repo, prd, sha = project
    report = run_drift(store, settings, prd, repo)
    snap = report.snapshot
    assert report.cached is False and snap.repo_sha == sha and snap.rev == "HEAD"
    claims = {r.claim.line: r for r in snap.claims}
    status = {line: r.status for line, r in claims.items()}
    assert status == {
        7: "verified",  # 1.1 file + parse_claims + DriftEngine
        8: "verified",  # 1.2 endpoint + file
        9: "missing",  # 1.3 file, export_rows, /v2/stream (only in prose, which is excluded)
        11: "partial",  # 1.4 MAX_ITEMS defined, MAX_BYTES not
        12: "unverifiable",  # 1.5 nothing checkable
        13: "missing",  # 1.6 open box
        14: "verified",  # 1.7 util.py
        16: "verified",  # 1.8 legacy.py is absent, as claimed
        27: "verified",  # table row: GET /api/items/:item_id found as {item_id}
        30: "verified",  # tests/test_core.py::test_parse_claims
        31: "verified",  # the commit, an ancestor of HEAD
    }
    # Fake = asserted and missing; the open box is missing but not fake.
    assert [line for line, r in claims.items() if r.fake] == [9]
    assert claims[13].claim.asserted is False and claims[13].claim.checked is False

    c11 = claims[7]
    ev = {(e.reference.kind, e.reference.target): e for e in c11.evidence}
    assert set(ev) == {("file", "src/app/core.py"), ("symbol", "parse_claims"), ("symbol", "DriftEngine")}
    assert ev[("symbol", "parse_claims")].locations == ["src/app/core.py:4"]
    assert ev[("symbol", "DriftEngine")].locations == ["src/app/core.py:8"]

    c13 = {(e.reference.kind, e.reference.target): e for e in claims[9].evidence}
    assert not any(e.found for e in c13.values())
    assert c13[("endpoint", "/v2/stream")].locations == []  # docs/NOTES.md does not count
    assert c13[("symbol", "export_rows")].locations == []

    c14 = {e.reference.target: e.found for e in claims[11].evidence}
    assert c14 == {"MAX_ITEMS": True, "MAX_BYTES": False, "src/app/core.py": True}

    legacy = claims[16].evidence
    assert [(e.reference.target, e.reference.expect_absent, e.found) for e in legacy] == [
        ("src/app/legacy.py", True, True)
    ]
    row = claims[27]
    assert row.claim.kind == "table" and row.claim.phase == "Phase 2: API"
    assert row.evidence[0].locations == ["src/app/server.py:1"]
    commit = claims[31].evidence[0]
    assert commit.reference.kind == "commit" and commit.locations == [sha]

    # Phase counts as the seed's phase_sweep_findings name them (asserted claims only).
    phases = {p.phase: p for p in snap.phases}
    p1 = phases["Phase 1: Core"]
    assert (p1.claims, p1.claims_verified, p1.claims_partial, p1.claims_fake, p1.claims_unverifiable,
            p1.claims_open) == (8, 4, 1, 1, 1, 1)
    assert snap.totals["fake"] == 1 and snap.totals["claims"] == 11
    # Not claims: the fenced example, the 'planned' row, the negated bullet, the intro.
    texts = " ".join(r.claim.text for r in snap.claims)
    assert "nowhere.py" not in texts and "planned" not in texts and "not yet" not in texts


def test_receipt_records_the_run(store: Store, settings: Settings, project) -> None:
    repo, prd, _ = project
    report = run_drift(store, settings, prd, repo)
    receipt = get_receipt(store, report.receipt_id)
    assert receipt.stage == "drift" and receipt.validation_pass is True
    assert [f.path for f in receipt.input_files] == [str(prd.resolve())]
    assert receipt.record_counts.in_ == 11 and receipt.record_counts.out == 11
    assert receipt.record_counts.detail["fake"] == 1 and receipt.record_counts.detail["partial"] == 1
    assert receipt.details["snapshot_id"] == report.snapshot.snapshot_id and receipt.details["cached"] is False


def test_rerun_on_same_state_is_cached(store: Store, settings: Settings, project, monkeypatch) -> None:
    repo, prd, _ = project
    first = run_drift(store, settings, prd, repo)

    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("a cached state must not be checked again")

    monkeypatch.setattr(drift, "check_claims", boom)
    again = run_drift(store, settings, prd, repo, rev="main")  # another name for the same commit
    assert again.cached is True
    assert again.snapshot.snapshot_id == first.snapshot.snapshot_id
    assert again.snapshot == get_snapshot(store, first.snapshot.snapshot_id)
    assert again.receipt_id != first.receipt_id  # a receipt per run, cached or not
    assert get_receipt(store, again.receipt_id).record_counts.out == 0
    assert len(list_receipts(store, stage="drift")) == 2
    assert store.query_one("SELECT COUNT(*) AS n FROM drift_snapshots")["n"] == 1


def test_deleting_a_file_breaks_exactly_that_claim(store: Store, settings: Settings, project) -> None:
    repo, prd, first_sha = project
    before = run_drift(store, settings, prd, repo)
    (repo / "src/app/util.py").unlink()
    git(repo, "commit", "-q", "-am", "drop util")
    after = run_drift(store, settings, prd, repo, compare_to=before.snapshot.snapshot_id)
    assert after.snapshot.snapshot_id != before.snapshot.snapshot_id
    cmp = after.comparison
    assert cmp is not None and cmp.base_sha == first_sha and cmp.head_sha == after.snapshot.repo_sha
    assert [(c.text, c.status_before, c.status_after, c.lost) for c in cmp.newly_broken] == [
        ("1.7 Helpers in place", "verified", "missing", ["file:src/app/util.py"])
    ]
    assert cmp.newly_verified == [] and cmp.appeared == [] and cmp.disappeared == [] and cmp.other_changes == []
    assert cmp.unchanged == 10
    # The same comparison by ids, and with compare_to given as a revision.
    assert compare_snapshots(store, before.snapshot.snapshot_id, after.snapshot.snapshot_id) == cmp
    by_rev = run_drift(store, settings, prd, repo, compare_to=first_sha[:12])
    assert by_rev.cached is True and by_rev.comparison == cmp
    # And back: restoring the file makes the claim newly verified.
    reverse = compare_snapshots(store, after.snapshot.snapshot_id, before.snapshot.snapshot_id)
    assert [c.text for c in reverse.newly_verified] == ["1.7 Helpers in place"] and reverse.newly_broken == []


def test_edited_prd_lines_up_claims_by_key(store: Store, settings: Settings, project) -> None:
    repo, prd, _ = project
    before = run_drift(store, settings, prd, repo)
    text = prd.read_text()
    # Renumbered and re-indented tasks keep their key; a new claim appears, a removed one disappears.
    text = text.replace("- [x] 1.2 Chat endpoint", "- [x] 2.9 Chat endpoint")
    text = text.replace("- [x] 1.5 Team agreed on naming conventions\n", "")
    text = text.replace("- [ ] 1.6 Streaming in", "- [x] 1.6 Streaming in")
    text += "- [x] 3.1 Slugs via `slugify()` landed\n"
    prd.write_text(text)
    after = run_drift(store, settings, prd, repo, compare_to=before.snapshot.snapshot_id)
    cmp = after.comparison
    assert cmp is not None
    assert [c.text for c in cmp.appeared] == ["3.1 Slugs via `slugify()` landed"]
    assert [c.text for c in cmp.disappeared] == ["1.5 Team agreed on naming conventions"]
    # Ticking the box changes nothing in the repo but the claim is now asserted (and fake).
    assert [(c.text, c.status_before, c.status_after) for c in cmp.other_changes] == [
        ("1.6 Streaming in `src/app/stream.py`", "missing", "missing")
    ]
    assert cmp.newly_broken == [] and cmp.newly_verified == []
    assert after.snapshot.totals["fake"] == 2


def test_get_latest_and_list(store: Store, settings: Settings, project) -> None:
    repo, prd, _ = project
    with pytest.raises(NotFoundError, match="no drift snapshot yet"):
        latest_snapshot(store)
    with pytest.raises(NotFoundError, match="no drift snapshot 'drift-nope'"):
        get_snapshot(store, "drift-nope")
    first = run_drift(store, settings, prd, repo)
    (repo / "NEW.txt").write_text("x\n")
    git(repo, "add", "NEW.txt")
    git(repo, "commit", "-q", "-m", "more")
    second = run_drift(store, settings, prd, repo)
    assert latest_snapshot(store).snapshot_id == second.snapshot.snapshot_id
    run_drift(store, settings, prd, repo, rev=first.snapshot.repo_sha)  # re-requested: latest again
    assert latest_snapshot(store).snapshot_id == first.snapshot.snapshot_id
    rows = list_snapshots(store)
    assert [r["snapshot_id"] for r in rows] == [first.snapshot.snapshot_id, second.snapshot.snapshot_id]
    assert rows[0]["totals"]["claims"] == 11


def test_prd_folder_is_one_snapshot(store: Store, settings: Settings, project) -> None:
    repo, prd, _ = project
    (prd.parent / "phases").mkdir()
    (prd.parent / "phases" / "PHASES.md").write_text("## Phase 9\n- [x] Server in `src/app/server.py`\n")
    (prd.parent / "notes.bin").write_bytes(b"\0\1\2")  # not markdown: ignored
    report = run_drift(store, settings, prd.parent, repo)
    docs = [d.path for d in report.snapshot.docs]
    assert docs == ["PRD.md", "phases/PHASES.md"]
    phase9 = [r for r in report.snapshot.claims if r.claim.doc == "phases/PHASES.md"]
    assert [(r.claim.phase, r.status) for r in phase9] == [("Phase 9", "verified")]


# --- bad input -------------------------------------------------------------------------------------


def test_paths_outside_the_roots_are_refused(store: Store, tmp_path: Path, project) -> None:
    repo, prd, _ = project
    narrow = Settings(db_path=tmp_path / "distill.db", roots=[prd.parent])
    with pytest.raises(PathNotAllowedError, match="outside the allowed roots"):
        run_drift(store, narrow, prd, repo)
    with pytest.raises(PathNotAllowedError):
        run_drift(store, Settings(db_path=tmp_path / "d.db", roots=[repo]), prd, repo)
    failed = list_receipts(store, stage="drift")
    assert len(failed) == 2 and all(r["validation_pass"] == 0 for r in failed)
    assert "outside the allowed roots" in get_receipt(store, failed[0]["receipt_id"]).errors[0]


def test_not_a_repo_and_subfolders_are_refused(store: Store, settings: Settings, project, tmp_path: Path) -> None:
    repo, prd, _ = project
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(InvalidInputError, match=r"not a git repository .* top folder"):
        run_drift(store, settings, prd, plain)
    with pytest.raises(InvalidInputError, match="not a git repository"):
        run_drift(store, settings, prd, repo / "src")  # inside a repo, but not its top folder
    with pytest.raises(InvalidInputError, match="is a file"):
        run_drift(store, settings, prd, repo / "src/app/core.py")
    with pytest.raises(NotFoundError, match="does not exist"):
        run_drift(store, settings, prd, tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    with pytest.raises(NotFoundError, match="no commits yet"):
        run_drift(store, settings, prd, empty)


@pytest.mark.parametrize(
    ("rev", "error", "message"),
    [
        ("no-such-branch", NotFoundError, "unknown revision 'no-such-branch'"),
        ("0123456789abcdef0123456789abcdef01234567", NotFoundError, "unknown revision"),
        ("--output=/tmp/drift-pwned", InvalidInputError, "starts with '-'"),
        ("-n", InvalidInputError, "starts with '-'"),
        ("main extra", InvalidInputError, "whitespace"),
        ("main\nHEAD", InvalidInputError, "whitespace"),
        ("", InvalidInputError, "empty"),
        ("HEAD:src/app/core.py", NotFoundError, "unknown revision"),  # a blob, not a commit
    ],
)
def test_bad_revisions(store: Store, settings: Settings, project, rev: str, error: type, message: str) -> None:
    repo, prd, _ = project
    with pytest.raises(error, match=message):
        run_drift(store, settings, prd, repo, rev=rev)
    assert not Path("/tmp/drift-pwned").exists()


def test_bad_prd_files(store: Store, settings: Settings, project, tmp_path: Path) -> None:
    repo, _, _ = project
    binary = tmp_path / "prd.md"
    binary.write_bytes(b"# PRD\n\0\1\2 binary")
    with pytest.raises(InvalidInputError, match="not UTF-8 text"):
        run_drift(store, settings, binary, repo)
    latin = tmp_path / "latin.md"
    latin.write_bytes("# caf\xe9\n".encode("latin-1"))
    with pytest.raises(InvalidInputError, match="not UTF-8"):
        run_drift(store, settings, latin, repo)
    huge = tmp_path / "huge.md"
    huge.write_bytes(b"- [x] a\n" * (drift.MAX_PRD_BYTES // 8 + 1))
    with pytest.raises(InvalidInputError, match=r"over the .*-byte limit"):
        run_drift(store, settings, huge, repo)
    with pytest.raises(NotFoundError, match="does not exist"):
        run_drift(store, settings, tmp_path / "nope.md", repo)
    empty_dir = tmp_path / "nodocs"
    empty_dir.mkdir()
    with pytest.raises(NotFoundError, match="no markdown docs"):
        run_drift(store, settings, empty_dir, repo)


def test_unknown_compare_to(store: Store, settings: Settings, project) -> None:
    repo, prd, _ = project
    with pytest.raises(NotFoundError, match="no drift snapshot 'drift-0000'"):
        run_drift(store, settings, prd, repo, compare_to="drift-0000")
    with pytest.raises(NotFoundError, match="neither a stored snapshot id nor a revision"):
        run_drift(store, settings, prd, repo, compare_to="v9.9.9")
    with pytest.raises(InvalidInputError, match="starts with '-'"):
        run_drift(store, settings, prd, repo, compare_to="--all")


def test_nothing_from_the_repo_runs(store: Store, settings: Settings, project, tmp_path: Path) -> None:
    """A hostile .git/config (fsmonitor, pager, textconv, hooks) must not start anything."""
    repo, prd, _ = project
    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.sh"
    evil.write_text(f"#!/bin/sh\ntouch {marker}\n")
    evil.chmod(0o755)
    for key, value in [
        ("core.fsmonitor", str(evil)), ("core.pager", str(evil)), ("diff.evil.textconv", str(evil)),
        ("core.hooksPath", str(tmp_path)), ("grep.fallbackToNoIndex", "true"),
    ]:
        git(repo, "config", key, value)
    (repo / ".gitattributes").write_text("*.py diff=evil\n")
    for hook in ("post-checkout", "pre-commit", "reference-transaction", "post-index-change"):
        (tmp_path / hook).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (tmp_path / hook).chmod(0o755)
    report = run_drift(store, settings, prd, repo)
    assert report.snapshot.totals["claims"] == 11
    assert not marker.exists()


# --- parsing rules -----------------------------------------------------------------------------------


def test_reference_kinds() -> None:
    def kinds(text: str) -> list[tuple[str, str, bool]]:
        return [(r.kind, r.target, r.expect_absent) for r in extract_references(text, 1)]

    assert kinds("File: `apps/x/file.ts:98-104` and bare crates/a/src/lib.rs.") == [
        ("file", "apps/x/file.ts", False), ("file", "crates/a/src/lib.rs", False)
    ]
    assert kinds("`tests/test_a.py::test_b` `x.test.ts` `test_c` `TestParse`") == [
        ("test", "tests/test_a.py", False), ("test", "test_b", False), ("test", "x.test.ts", False),
        ("test", "test_c", False), ("test", "TestParse", False),
    ]
    assert kinds("`POST /api/hooks/:id` and /v1/chat, `a1b2c3d`, commit 9f8e7d6c") == [
        ("endpoint", "/api/hooks/:id", False), ("commit", "a1b2c3d", False), ("endpoint", "/v1/chat", False),
        ("commit", "9f8e7d6c", False),
    ]
    assert kinds("`snake_case` `camelCase` `CONST_X` `reset()` `Store::open` `a.b.doThing()` `sel(id: string)`") == [
        ("symbol", "snake_case", False), ("symbol", "camelCase", False), ("symbol", "CONST_X", False),
        ("symbol", "reset", False), ("symbol", "open", False), ("symbol", "doThing", False),
        ("symbol", "sel", False),
    ]
    assert kinds("`src/` `e2e/tests/*.spec.ts` `docs/{a,b}.md` [PRD](../docs/PRD.md#top)") == [
        ("dir", "src", False), ("glob", "e2e/tests/*.spec.ts", False), ("glob", "docs/{a,b}.md", False),
        ("file", "docs/PRD.md", False),
    ]
    # Not checkable: plain words, snippets, URLs, absolute / home / generated paths, ignore patterns.
    assert kinds(
        "`draft` `Webhook` `x = 1` `config.get('a')` `crypto.randomBytes(32).toString('hex')` "
        "https://example.com/a/b.py `/Users/me/plan.md` `~/.cfg/a.json` `dist/index.js` "
        "`apps/node_modules/x/y.js` `e2e.db-*` `@/server/config` `join(__dirname, \"x.js\")`"
    ) == []


def test_phases_sections_and_rename_rules() -> None:
    md = """# Title
## 3. API surface
- [x] Route `/api/a` done
### Phase 12: Cleanup
- [x] Rename file: `a/old.py` → `a/new.py`
- [X] Delete old JS scripts
  - Files: `s/start.js`, `s/other.js`
- [x] Delete `unusedHelper` function
  - File: `a/new.py`
  - Remove: `old/thing.py` and `OLD_CONST`
#### Completion Notes
- Everything implemented as planned
- Not implemented yet: `x/y.py`
## Success Criteria
- [ ] Works
* [x] star bullets count too
1. [x] numbered checkbox
- Feature X: ✅
"""
    claims = parse_markdown(md, "doc.md")
    got = [(c.phase, c.kind, c.asserted, [(r.target, r.expect_absent) for r in c.references]) for c in claims]
    assert got == [
        ("3. API surface", "checkbox", True, [("/api/a", False)]),
        ("Phase 12: Cleanup", "checkbox", True, [("a/old.py", True), ("a/new.py", False)]),
        ("Phase 12: Cleanup", "checkbox", True, [("s/start.js", True), ("s/other.js", True)]),
        # the line says Delete: the function must be gone; the file it lived in stays.
        ("Phase 12: Cleanup", "checkbox", True,
         [("unusedHelper", True), ("a/new.py", False), ("old/thing.py", True), ("OLD_CONST", True)]),
        ("Phase 12: Cleanup", "bullet", True, []),
        ("Success Criteria", "checkbox", False, []),
        ("Success Criteria", "checkbox", True, []),
        ("Success Criteria", "checkbox", True, []),
        ("Success Criteria", "bullet", True, []),
    ]
    assert claims[4].section == "3. API surface / Phase 12: Cleanup / Completion Notes"


def test_claim_keys_are_stable_and_unique() -> None:
    assert claim_key("d.md", "Phase 1", "1.2 [5/10] Implement **renderTemplate** `service`") == claim_key(
        "d.md", "phase 1", "3.4 [2/10]  implement renderTemplate service."
    )
    assert claim_key("d.md", "Phase 1", "x") != claim_key("d.md", "Phase 2", "x")
    assert claim_key("a.md", "P", "x") != claim_key("b.md", "P", "x")
    claims = parse_markdown("## Review\n- [x] Code checked\n## Review\n- [x] Code checked\n", "d.md")
    assert len({c.claim_key for c in claims}) == 2


def test_endpoint_variants_and_rev_validation() -> None:
    assert endpoint_variants("/api/items/:id/x") == ["/api/items/:id/x", "/api/items/<id>/x", "/api/items/{id}/x"]
    assert endpoint_variants("/v1/chat") == ["/v1/chat"]
    assert validate_rev(" main~2 ") == "main~2"
    for bad in ("-x", "--end-of-options", "a b", "a\tb", "x" * 300):
        with pytest.raises(InvalidInputError):
            validate_rev(bad)


# --- real data: agent-written checkbox specs vs. the repo tree at their commit ------------------------

REAL = ("data", "real", "roadmap-specs-agentcmd")

#: Ticked checkbox claims per spec, by status, as read by eye against tree_at_commit.tsv. The test repo
#: holds the listed paths as EMPTY files (the tsv gives paths, not contents), so a code symbol or an
#: endpoint named in a claim is never found there: claims naming one are at best partial.
EXPECTED_TICKED = {
    # 1.1 /api/workflows/inngest endpoint (empty files); 2.1 `config.workflow.appId`; 2.3 anthropicApiKey:
    # partial. 1.3 Configuration.ts renamed away and 2.4 config.ts deleted: both absent, verified.
    "done/2511131117-config-simplification/spec.md": Counter(verified=7, partial=3, unverifiable=4),
    # fake: 1.2 names the placeholder migrations/xxx_add_webhooks.sql; 2.4 resolveMapping.ts is not in the
    # tree. partial: 2.2/2.3/2.6/2.8, 3.1-3.4 name *.test.ts files that do not exist; 4.1/4.2 endpoints.
    "done/2511191028-webhook-system/spec.md": Counter(verified=5, partial=10, missing=2, unverifiable=7),
    # fake: 1.6 router.tsx, 4.2 WebhookWorkflowSection, 4.4 WebhookConditionsSection, 5.1 FieldMappingEditor,
    # 5.2 FieldMappingRow, 5.3 field-mapping/ConditionalMappingBuilder (the tree has ConditionalMappings-
    # Builder.tsx elsewhere): none of those paths exists. unverifiable: tasks naming no path (1.5, 5.4, 5.5,
    # 6.3, 7.3, 8.5, 9.1-9.4, 10.1-10.6) and the six review-checklist boxes.
    "done/2511191130-webhook-frontend/spec.md": Counter(verified=23, missing=6, unverifiable=22),
    # fake: 2.6 useSessionList.ts lives in client/hooks/, not sessions/hooks/; 1.5 names only the symbol
    # currentSession (empty files). partial: symbols (1.4, 1.7, 2.2), endpoint GET /api/sessions (2.3),
    # 2.7 CommandMenu.tsx moved to client/components/.
    "done/2511230804-session-store-refactor/spec.md": Counter(verified=12, partial=5, missing=2, unverifiable=4),
    # fake: 1.3 e2e/playwright.config.ts (it is apps/app/playwright.config.ts), 1.8 and 2.5
    # session-lifecycle.e2e.spec.ts, 3.2-3.5 project tests, 4.2 workflow tests, 4.3 file tests: absent.
    # partial: 2.1/2.3/2.4/5.1 symbols; 3.1 login.e2e.spec.ts absent (login-failure, logout exist);
    # 4.1 only create-session.e2e.spec.ts exists. verified include 1.2 (the three e2e folders exist), 1.9
    # (.gitignore; the ignore patterns and report folders it adds are not paths to check) and review item
    # "e2e/tsconfig.json" (suffix of apps/app/e2e/tsconfig.json). unverifiable: 1.1, 1.10, six "Fixed
    # Issues" boxes naming no path, six review-checklist boxes.
    "done/2511260537-playwright-e2e-testing/spec.md": Counter(verified=10, partial=6, missing=9, unverifiable=14),
    # fake: 2.3 apps/app/scripts/start.js, deleted later by the server-start consolidation.
    "done/2511271548-prisma-7-upgrade/spec.md": Counter(verified=5, missing=1, unverifiable=9),
    # fake: task-5 src/scripts/start-inngest.ts does not exist; task-7 names it too (partial). task-8
    # deletes scripts/start.js and start-inngest.js: both absent, verified. task-1/2 and the review item
    # name symbols (partial).
    "todo/2511282130-server-start-consolidation/spec.md": Counter(verified=4, partial=4, missing=1, unverifiable=4),
}
EXPECTED_FAKE_LINES = {
    "done/2511191028-webhook-system/spec.md": [217, 261],
    "done/2511191130-webhook-frontend/spec.md": [247, 333, 341, 361, 365, 369],
    "done/2511230804-session-store-refactor/spec.md": [189, 262],
    "done/2511260537-playwright-e2e-testing/spec.md": [232, 255, 316, 351, 355, 359, 363, 398, 405],
    "done/2511271548-prisma-7-upgrade/spec.md": [181],
    "todo/2511282130-server-start-consolidation/spec.md": [108],
}


@pytest.fixture(scope="module")
def agentcmd_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = shared_path(*REAL)
    repo = tmp_path_factory.mktemp("agentcmd") / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    for line in (source / "tree_at_commit.tsv").read_text().splitlines():
        _size, rel = line.split("\t", 1)
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "agentcmd tree at 958c4940 (paths only)")
    return repo


def test_real_agentcmd_specs(store: Store, tmp_path: Path, agentcmd_repo: Path) -> None:
    specs = shared_path(*REAL, ".agent", "specs")
    settings = Settings(db_path=tmp_path / "distill.db", roots=[tmp_path, agentcmd_repo.parent, SHARED])
    report = run_drift(store, settings, specs, agentcmd_repo)
    snap = report.snapshot
    assert [d.path for d in snap.docs] == sorted(EXPECTED_TICKED)
    ticked: dict[str, Counter[str]] = {doc: Counter() for doc in EXPECTED_TICKED}
    fake_lines: dict[str, list[int]] = {}
    for r in snap.claims:
        if r.claim.kind == "checkbox" and r.claim.checked:
            ticked[r.claim.doc][r.status] += 1
        if r.fake and r.claim.kind == "checkbox":
            fake_lines.setdefault(r.claim.doc, []).append(r.claim.line)
    assert ticked == EXPECTED_TICKED
    assert fake_lines == EXPECTED_FAKE_LINES
    # 179 ticked and 100 open boxes in all: `grep -c '^\s*- \[x\]'` / `'- \[ \]'` over the specs agrees.
    boxes = Counter(r.claim.checked for r in snap.claims if r.claim.kind == "checkbox")
    assert boxes == Counter({True: 179, False: 100})
    # Per-phase counts for the webhook backend, as phase_sweep_findings would record them.
    phases = {p.phase: p for p in snap.phases if p.doc == "done/2511191028-webhook-system/spec.md"}
    p2 = phases["Phase 2: Core Services"]  # 9 boxes + 2 'Implemented ...' completion notes
    assert (p2.claims, p2.claims_verified, p2.claims_partial, p2.claims_fake, p2.claims_unverifiable) == (
        11, 2, 4, 1, 4
    )
    p4 = phases["Phase 4: API Routes"]  # 4.5 is open
    assert (p4.claims, p4.claims_verified, p4.claims_partial, p4.claims_fake, p4.claims_open) == (6, 2, 2, 0, 1)


# --- self-check on this project's own docs -------------------------------------------------------------


def _self_check(store: Store, tmp_path: Path, prd: Path) -> None:
    settings = Settings(db_path=tmp_path / "distill.db", roots=[PROJECT])
    report = run_drift(store, settings, prd, PROJECT)
    snap = report.snapshot
    assert DriftSnapshot.model_validate_json(snap.model_dump_json()) == snap
    for r in snap.claims:
        assert r.status in CLAIM_STATUSES
        assert r.fake == (r.claim.asserted and r.status == "missing")
        assert (r.status == "unverifiable") == (not r.evidence)
    assert sum(p.claims for p in snap.phases) == len(snap.claims)
    assert get_receipt(store, report.receipt_id).validation_pass is True


def test_self_check_readme(store: Store, tmp_path: Path) -> None:
    readme = PROJECT / "README.md"
    if not readme.exists():
        pytest.skip("README.md is absent: nothing to self-check")
    _self_check(store, tmp_path, readme)


def test_self_check_docs(store: Store, tmp_path: Path) -> None:
    docs = PROJECT / "docs"
    if not any(docs.glob("*.md")):
        pytest.skip("docs/ holds no markdown")
    _self_check(store, tmp_path, docs)


def test_git_output_is_bounded(store: Store, settings: Settings, tmp_path: Path, monkeypatch) -> None:
    """Grep output past the cap is dropped and the names it hid are re-checked one by one."""
    from mcp_distill.drift import git as drift_git

    many = "".join(f"    common_name = {i}\n" for i in range(300))  # 300 definition-like lines
    repo = tmp_path / "big"
    make_repo(repo, {"a/many.py": many, "a/tail.py": "def zz_last_one():\n    pass\n"})
    prd = tmp_path / "big.md"
    prd.write_text("- [x] Helpers `common_name` and `zz_last_one` shipped\n")
    monkeypatch.setattr(drift_git, "MAX_GIT_OUTPUT_BYTES", 400)
    report = run_drift(store, settings, prd, repo)
    (claim,) = report.snapshot.claims
    assert claim.status == "verified", [(e.reference.target, e.found) for e in claim.evidence]
    assert any("cut" in w for w in get_receipt(store, report.receipt_id).warnings)
    # The tree listing has no partial answer: too large is an error that says so.
    monkeypatch.setattr(drift_git, "MAX_GIT_OUTPUT_BYTES", 5)
    prd.write_text("- [x] Tail `zz_last_one` landed\n")  # another PRD state: not cached
    with pytest.raises(InvalidInputError, match="too large to check"):
        run_drift(store, settings, prd, repo)
