"""Pydantic models: the source of truth for every schema; ``schemas/*.json`` is generated from them."""

from .common import CATEGORIES, Category, Provenance
from .datasets import Message, PreferenceSample, RagSample, SftSample
from .evidence import CommandRun, EvidenceRecord, HumanOverride, Signals, ValidationResult
from .ledger import ModelLedgerEntry
from .playbook import Playbook
from .receipt import FileDigest, Receipt, RecordCounts
from .scoring import ScoredRun, SignalVote
from .scratchpad import ScratchpadSummary, ValidationStatus

#: The nine published schemas, by the name their JSON Schema file carries.
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
}

__all__ = [
    "CATEGORIES",
    "SCHEMAS",
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
