"""PRD drift: claims read from PRD / phase docs, their checks at a git revision, snapshots and diffs.

These models are deliberately not part of ``SCHEMAS`` (the nine published schemas); import them from
this module directly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from mcp_distill.models.common import StrictModel

RefKind = Literal["file", "dir", "glob", "symbol", "endpoint", "test", "commit"]
ClaimKind = Literal["checkbox", "bullet", "table"]
ClaimStatus = Literal["verified", "partial", "missing", "unverifiable"]
CLAIM_STATUSES: tuple[str, ...] = ("verified", "partial", "missing", "unverifiable")


class Reference(StrictModel):
    """One checkable thing a claim names: a file, a symbol, an endpoint, a test or a commit."""

    kind: RefKind
    value: str = Field(min_length=1, description="The reference as written in the doc.")
    target: str = Field(min_length=1, description="What is looked up: a path, name, endpoint or hash.")
    path_hint: str | None = Field(None, description="For `path::name`: the file the name must live in.")
    expect_absent: bool = Field(
        False, description="The claim says this was removed or renamed away: found means absent."
    )
    line: int = Field(ge=1, description="1-based line of the doc where the reference is written.")


class Claim(StrictModel):
    """A statement that something shipped: a checkbox item, a bullet or a table row."""

    claim_key: str = Field(min_length=16, description="Stable across snapshots: doc + phase + normalised text.")
    doc: str = Field(min_length=1, description="The doc the claim is in (relative to the PRD folder).")
    phase: str = Field(description="Nearest phase heading ('Phase 2: ...', numbered section) or section.")
    section: str = Field(description="The heading path under which the claim sits.")
    line: int = Field(ge=1)
    kind: ClaimKind
    checked: bool | None = Field(None, description="Checkbox state; None for bullets and table rows.")
    asserted: bool = Field(description="The doc says it is done: a ticked box or a 'shipped' statement.")
    text: str = Field(min_length=1, description="The claim's own line, markdown markers removed.")
    references: list[Reference] = Field(default_factory=list)


class RefCheck(StrictModel):
    """The evidence for one reference: found or not, and where."""

    reference: Reference
    found: bool = Field(description="Satisfied: present, or absent when the reference expects absence.")
    locations: list[str] = Field(default_factory=list, description="path or path:line hits (first few).")
    note: str = ""


class ClaimResult(StrictModel):
    claim: Claim
    status: ClaimStatus
    fake: bool = Field(description="Asserted (ticked / 'shipped') yet none of its references holds.")
    evidence: list[RefCheck] = Field(default_factory=list)


class PhaseSummary(StrictModel):
    """Counts per (doc, phase), named as the seed's phase_sweep_findings name them.

    ``claims_*`` count asserted claims only; ``claims_open`` counts unticked boxes.
    """

    doc: str
    phase: str
    claims: int = Field(ge=0)
    claims_verified: int = Field(ge=0)
    claims_partial: int = Field(ge=0)
    claims_fake: int = Field(ge=0)
    claims_unverifiable: int = Field(ge=0)
    claims_open: int = Field(ge=0)


class DocDigest(StrictModel):
    path: str = Field(min_length=1, description="Relative to the PRD folder (or the file name).")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=0)


class DriftSnapshot(StrictModel):
    """Every claim of a PRD checked against one repo state; keyed by (PRD sha256, repo git sha)."""

    snapshot_id: str = Field(min_length=8)
    prd_path: str
    prd_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    docs: list[DocDigest]
    repo_path: str
    rev: str = Field(description="The revision as asked for (HEAD, a branch, a sha).")
    repo_sha: str = Field(pattern=r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")
    checker_version: str
    created_at: datetime
    totals: dict[str, int] = Field(default_factory=dict)
    phases: list[PhaseSummary] = Field(default_factory=list)
    claims: list[ClaimResult] = Field(default_factory=list)


class ClaimChange(StrictModel):
    claim_key: str
    doc: str
    phase: str
    text: str
    status_before: ClaimStatus | None
    status_after: ClaimStatus | None
    lost: list[str] = Field(default_factory=list, description="References that held before and not now.")
    gained: list[str] = Field(default_factory=list, description="References that hold now and did not.")


class DriftComparison(StrictModel):
    """What changed from snapshot ``base_id`` to snapshot ``head_id``.

    newly_broken: status fell (verified -> partial/missing, partial -> missing). newly_verified: became
    verified. appeared / disappeared: the claim key exists on one side only. other_changes: any other
    status or reference change (missing -> partial, to or from unverifiable).
    """

    base_id: str
    head_id: str
    base_sha: str
    head_sha: str
    newly_broken: list[ClaimChange] = Field(default_factory=list)
    newly_verified: list[ClaimChange] = Field(default_factory=list)
    appeared: list[ClaimChange] = Field(default_factory=list)
    disappeared: list[ClaimChange] = Field(default_factory=list)
    other_changes: list[ClaimChange] = Field(default_factory=list)
    unchanged: int = Field(0, ge=0)


class DriftReport(StrictModel):
    """What one ``run_drift`` call returns: the snapshot, an optional comparison and its receipt."""

    snapshot: DriftSnapshot
    comparison: DriftComparison | None = None
    receipt_id: str
    cached: bool = Field(description="The snapshot for this (PRD, repo sha) existed; nothing was re-checked.")
