"""Pydantic models: the source of truth for every schema; ``schemas/*.json`` is generated from them."""

from mcp_distill.models.common import CATEGORIES, Category, Provenance
from mcp_distill.models.datasets import (
    BeirDoc,
    BeirQrel,
    BeirQuery,
    Message,
    PreferenceSample,
    RagSample,
    SftSample,
)
from mcp_distill.models.drift import (
    CLAIM_STATUSES,
    Claim,
    ClaimChange,
    ClaimKind,
    ClaimResult,
    ClaimStatus,
    DocDigest,
    DriftComparison,
    DriftReport,
    DriftSnapshot,
    PhaseSummary,
    RefCheck,
    Reference,
    RefKind,
)
from mcp_distill.models.evidence import CommandRun, EvidenceRecord, HumanOverride, Signals, ValidationResult
from mcp_distill.models.ledger import ModelLedgerEntry
from mcp_distill.models.playbook import Playbook
from mcp_distill.models.receipt import FileDigest, Receipt, RecordCounts
from mcp_distill.models.results import CollectSummary, MappingSuggestion, RecordResult, ScoreSummary, SuggestedField
from mcp_distill.models.scoring import ScoredRun, SignalVote
from mcp_distill.models.scratchpad import ChecklistCounts, ScratchpadSummary, ValidationStatus

#: The published schemas, by the name their JSON Schema file carries.
SCHEMAS = {
    "EvidenceRecord": EvidenceRecord,
    "ScoredRun": ScoredRun,
    "Playbook": Playbook,
    "ScratchpadSummary": ScratchpadSummary,
    "ModelLedgerEntry": ModelLedgerEntry,
    "RagSample": RagSample,
    "SftSample": SftSample,
    "PreferenceSample": PreferenceSample,
    "Receipt": Receipt,
    "BeirDoc": BeirDoc,
    "BeirQuery": BeirQuery,
    "BeirQrel": BeirQrel,
}

__all__ = [
    "CATEGORIES",
    "CLAIM_STATUSES",
    "SCHEMAS",
    "BeirDoc",
    "BeirQrel",
    "BeirQuery",
    "Category",
    "ChecklistCounts",
    "Claim",
    "ClaimChange",
    "ClaimKind",
    "ClaimResult",
    "ClaimStatus",
    "CollectSummary",
    "CommandRun",
    "DocDigest",
    "DriftComparison",
    "DriftReport",
    "DriftSnapshot",
    "EvidenceRecord",
    "FileDigest",
    "HumanOverride",
    "MappingSuggestion",
    "Message",
    "ModelLedgerEntry",
    "PhaseSummary",
    "Playbook",
    "PreferenceSample",
    "Provenance",
    "RagSample",
    "Receipt",
    "RecordCounts",
    "RecordResult",
    "RefCheck",
    "RefKind",
    "Reference",
    "ScoreSummary",
    "ScoredRun",
    "ScratchpadSummary",
    "SftSample",
    "SignalVote",
    "Signals",
    "SuggestedField",
    "ValidationResult",
    "ValidationStatus",
]
