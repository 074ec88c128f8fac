"""Advice on a valid plan (config/advice.py, docs/plan-checks.md): the consent rule, where
each piece is located in the file, and what ``validate`` and ``validate --strict`` do with it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config.advice import RULES, Advice, advise
from config.load import load_plan, load_text
from tests.support import DUTCH, ENGLISH, MINIMAL, ROOT
from tests.unit.test_broken_plans import problem_line
from worker.run.cli import app

# The minimal plan with a third person, written in block style so that lines are known:
# Sol's entry starts on line 13, column 5 (after "  - "); Tim's on line 12.
SOL = (
    "  - id: sol\n"
    "    name: Sol Vermeer\n"
    "    side: team\n"
    "    email: sol@team.example\n"
    '    phone: "+31612345678"\n'
)
SOL_AT = (13, 5)


def plan_text(channels: str = "[sms, email]", consent: str | None = None, **extra: str) -> str:
    text = MINIMAL.replace("  channels: {email: {}}\n", "")
    person = SOL + f"    channels: {channels}\n"
    if consent is not None:
        person += f"    consent: {consent}\n"
    for key, value in extra.items():
        person += f"    {key}: {value}\n"
    text = text.replace("challenge:", person + "challenge:", 1)
    return text + "  channels: {email: {}, sms: {}, whatsapp: {}}\n"


def write(folder: Path, text: str, name: str = "plan.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def advice_for(text: str) -> list[Advice]:
    return advise(load_text(text, "plan.yaml"), "plan.yaml")


def test_the_plan_text_puts_sol_where_the_tests_say() -> None:
    lines = plan_text().splitlines()
    assert lines[SOL_AT[0] - 1] == "  - id: sol"
    assert load_text(plan_text()).person("sol").channels == ["sms", "email"]


# -- the consent rule ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channels", "named"),
    [
        ("[sms, email]", "by sms"),
        ("[whatsapp, email]", "by whatsapp"),
        ("[email, whatsapp, sms]", "by whatsapp and sms"),
        ("[sms]", "by sms"),
    ],
)
def test_sms_or_whatsapp_without_consent_gets_advice_at_the_person(
    channels: str, named: str
) -> None:
    (piece,) = advice_for(plan_text(channels))
    assert piece.rule == "consent"
    assert (piece.problem.line, piece.problem.column) == SOL_AT
    assert piece.problem.field == "people[2].consent"
    assert f"Sol Vermeer is reached {named} without a recorded consent" in piece.problem.message
    assert "consent: YYYY-MM-DD" in piece.problem.message
    assert piece.format("plan.yaml") == (
        f"plan.yaml:13:5: advice: people[2].consent: {piece.problem.message}"
    )


@pytest.mark.parametrize(
    ("channels", "consent"),
    [
        ("[sms, email]", "2027-01-02"),  # before the start
        ("[whatsapp, email]", "2027-03-01"),  # during the project
        ("[sms, email]", "2027-12-31"),  # after the plan's end: fine, only a missing one counts
        ("[sms]", "2099-01-01"),  # in the future relative to today
        ("[email]", None),  # a phone number but no phone channel
        ("[email, slack]", None),
    ],
)
def test_no_advice_with_a_consent_or_without_phone_channels(
    channels: str, consent: str | None
) -> None:
    text = plan_text(channels, consent)
    if "slack" in channels:
        text = text.replace("whatsapp: {}}", "whatsapp: {}, slack: {webhook: env:HOOK}}")
    assert advice_for(text) == []


def test_two_people_without_consent_get_two_pieces_in_file_order() -> None:
    text = plan_text("[sms, email]").replace(
        "  - {id: tim, name: Tim, side: team, email: tim@team.example}",
        '  - {id: tim, name: Tim, side: team, email: tim@team.example, phone: "+31687654321",'
        " channels: [whatsapp, email]}",
    )
    found = advice_for(text)
    assert [(a.problem.field, a.problem.line, a.problem.column) for a in found] == [
        ("people[1].consent", 12, 5),
        ("people[2].consent", *SOL_AT),
    ]
    assert "Tim is reached by whatsapp" in found[0].problem.message


def test_a_flow_style_person_is_located_at_its_brace() -> None:
    text = plan_text("[email]").replace(
        "  - {id: tim, name: Tim, side: team, email: tim@team.example}",
        '  - {id: tim, name: Tim, side: team, phone: "+31687654321", channels: [sms]}',
    )
    (piece,) = advice_for(text)
    assert (piece.problem.line, piece.problem.column) == (12, 5)


def test_a_plan_built_without_its_text_is_advised_at_the_top() -> None:
    plan = load_text(plan_text())
    plan.attach_source(None, "")  # as a plan made in code, not read from a file
    (piece,) = advise(plan)
    assert (piece.problem.line, piece.problem.column, piece.problem.field) == (
        1,
        1,
        "people[2].consent",
    )


def test_every_rule_has_a_name_a_reason_and_a_section_in_the_docs() -> None:
    doc = (ROOT / "docs" / "plan-checks.md").read_text(encoding="utf-8")
    names = [rule.name for rule in RULES]
    assert len(set(names)) == len(names)
    for rule in RULES:
        assert re.fullmatch(r"[a-z][a-z-]*", rule.name)
        assert len(rule.reason) > 40
        assert f"`{rule.name}`" in doc, rule.name


def test_the_examples_get_no_advice() -> None:
    for path in (DUTCH, ENGLISH):
        assert advise(load_plan(path), str(path)) == []


# -- validate ------------------------------------------------------------------------------


def test_validate_prints_advice_after_the_ok_line_and_exits_0(tmp_path: Path) -> None:
    path = write(tmp_path, plan_text())
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    ok, advice = result.stdout.splitlines()
    assert ok.startswith(f"{path}: ok (test-plan: 3 people")
    assert advice.startswith(f"{path}:13:5: advice: people[2].consent: Sol Vermeer is reached")


def test_validate_strict_reports_advice_as_errors_and_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, plan_text())
    result = CliRunner().invoke(app, ["validate", "--strict", str(path)])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert problem_line(path).match(line), line
    assert line.startswith(f"{path}:13:5: people[2].consent: Sol Vermeer is reached by sms")
    assert "advice:" not in line


def test_validate_strict_passes_a_plan_without_advice(tmp_path: Path) -> None:
    path = write(tmp_path, plan_text(consent="2027-01-02"))
    result = CliRunner().invoke(app, ["validate", "--strict", str(path), str(DUTCH)])
    assert result.exit_code == 0, result.output
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [str(path), str(DUTCH)]
    assert result.stderr == ""


def test_validate_strict_fails_one_plan_and_passes_the_other(tmp_path: Path) -> None:
    advised = write(tmp_path, plan_text(), "advised.yaml")
    clean = write(tmp_path, plan_text(consent="2027-01-02"), "clean.yaml")
    result = CliRunner().invoke(app, ["validate", "--strict", str(advised), str(clean)])
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{clean}: ok")
    assert result.stderr.startswith(f"{advised}:13:5: people[2].consent: ")


def test_a_broken_plan_gets_errors_and_no_advice(tmp_path: Path) -> None:
    path = write(tmp_path, plan_text().replace("sol@team.example", "not an address"))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "people[2].email" in result.stderr
    assert "consent" not in result.stderr
