"""Schemas: generated files are fresh; every schema accepts its positive and refuses its negative fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from mcp_distill.models import SCHEMAS
from mcp_distill.schema_files import SCHEMA_DIR, stale

FIXTURES = Path(__file__).parent.parent / "fixtures" / "schemas"


def test_schema_files_are_not_stale():
    assert stale(SCHEMA_DIR) == [], "run `mcp-distill schemas generate` and commit schemas/"


def test_staleness_is_detected(tmp_path):
    (tmp_path / "Receipt.json").write_text("{}")
    assert "Receipt" in stale(tmp_path)
    assert set(stale(tmp_path)) == set(SCHEMAS)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_fixtures_per_schema(name):
    folder = FIXTURES / name
    positives = sorted(folder.glob("valid_*.json"))
    negatives = sorted(folder.glob("invalid_*.json"))
    assert len(positives) >= 2 and len(negatives) >= 3
    model = SCHEMAS[name]
    for path in positives:
        model.model_validate(json.loads(path.read_text()))
    for path in negatives:
        with pytest.raises(ValidationError):
            model.model_validate(json.loads(path.read_text()))


def test_sft_refuses_a_non_accepted_run():
    data = json.loads((FIXTURES / "SftSample" / "valid_1.json").read_text())
    data["metadata"]["category"] = "rejected"
    with pytest.raises(ValidationError):
        SCHEMAS["SftSample"].model_validate(data)


def test_preference_refuses_equal_sides():
    data = json.loads((FIXTURES / "PreferenceSample" / "valid_1.json").read_text())
    data["rejected"] = "  add an IS_WEAK_MODEL check   before downgrading. ".replace("IS_WEAK_MODEL", "is_weak_model")
    data["chosen"] = "Add an is_weak_model check before downgrading."
    with pytest.raises(ValidationError):
        SCHEMAS["PreferenceSample"].model_validate(data)
