"""`pactkeeper schema` is a JSON Schema that editors can use (docs/architecture §2).

The schema describes the file as written, so the plans are read the way an
editor's YAML support reads them for checking: plain values, dates and times as
text (``config.load.read_yaml``, the loader's own YAML 1.2 reading).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.validators import validator_for

from config.load import read_yaml
from tests.support import DUTCH, ENGLISH, ROOT

BROKEN = ROOT / "tests" / "plans" / "broken"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """The schema as the command prints it, in its own process."""
    command = [sys.executable, "-m", "worker.run.cli", "schema"]
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    printed = json.loads(result.stdout)
    assert isinstance(printed, dict)
    return printed


def as_written(path: Path) -> Any:
    return read_yaml(path.read_text(encoding="utf-8"), str(path)).data


def leaves(error: ValidationError) -> Iterator[ValidationError]:
    """The innermost errors: an optional section fails as "not valid under anyOf" first."""
    if not error.context:
        yield error
    for inner in error.context or []:
        yield from leaves(inner)


def errors(schema: dict[str, Any], path: Path) -> list[str]:
    """``json/pointer/path: message`` for every innermost error."""
    validator = Draft202012Validator(schema)
    found = [leaf for error in validator.iter_errors(as_written(path)) for leaf in leaves(error)]
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in found]


def test_it_declares_draft_2020_12_and_passes_its_meta_schema(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert validator_for(schema) is Draft202012Validator
    Draft202012Validator.check_schema(schema)


def test_it_describes_every_top_level_section(schema: dict[str, Any]) -> None:
    sections = {"partner", "team", "people", "challenge", "goal", "milestones"}
    sections |= {"communication", "checkins", "continuity", "handover", "agreements"}
    assert sections <= set(schema["properties"])
    assert schema["additionalProperties"] is False
    assert {"version", "id", "start", "end", "people"} <= set(schema["required"])


@pytest.mark.parametrize("path", [DUTCH, ENGLISH], ids=lambda path: path.stem)
def test_the_examples_validate_against_it(schema: dict[str, Any], path: Path) -> None:
    assert errors(schema, path) == []


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("unknown-key-did-you-mean", "communication"),
        ("unknown-top-level-key", ""),
        ("wrong-type-title-number", "title"),
        ("wrong-type-people-not-a-list", "people"),
        ("bad-phone-not-e164", "people/0/phone"),
        ("literal-secret-webhook", "communication/channels/slack/webhook"),
        ("bad-id", "id"),
        ("wrong-version", "version"),
        ("missing-required-section", ""),
        ("bad-duration-words", "checkins/grace"),
    ],
)
def test_a_broken_plan_does_not(schema: dict[str, Any], name: str, where: str) -> None:
    found = errors(schema, BROKEN / f"{name}.yaml")
    assert any(line.split(": ", 1)[0] == where for line in found), found


def test_references_are_beyond_a_schema(schema: dict[str, Any]) -> None:
    """The schema passes a dangling owner; `validate` is the check that catches it."""
    assert errors(schema, BROKEN / "dangling-person-reference.yaml") == []
