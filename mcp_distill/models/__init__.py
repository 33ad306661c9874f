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
from mcp_distill.models.evidence import CommandRun, EvidenceRecord, HumanOverride, Signals, ValidationResult
from mcp_distill.models.ledger import ModelLedgerEntry
from mcp_distill.models.playbook import Playbook
from mcp_distill.models.receipt import FileDigest, Receipt, RecordCounts
from mcp_distill.models.scoring import ScoredRun, SignalVote
from mcp_distill.models.scratchpad import ScratchpadSummary, ValidationStatus

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
    "SCHEMAS",
    "BeirDoc",
    "BeirQrel",
    "BeirQuery",
    "Category",
    "CommandRun",
    "EvidenceRecord",
    "FileDigest",
    "HumanOverride",
    "Message",
    "ModelLedgerEntry",
    "Playbook",
    "PreferenceSample",
    "Provenance",
    "RagSample",
    "Receipt",
    "RecordCounts",
    "ScoredRun",
    "ScratchpadSummary",
    "SftSample",
    "SignalVote",
    "Signals",
    "ValidationResult",
    "ValidationStatus",
]
