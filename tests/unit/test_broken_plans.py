"""Broken plans: exit 1, one located line per problem, every problem at once, no traceback.

Each file in ``tests/plans/broken/`` is a compact copy of an example plan with one
thing broken (``several-errors.yaml`` has five). Its first lines say what
``pactkeeper validate`` must report: ``# expect: LINE:COL: field.path: message``,
where the message may be cut short. Files too large or too dangerous to keep in
the repository (5 MB, a billion-laughs alias bomb) are made by the tests.

Most files are checked in-process through the real command (typer's runner);
the whole corpus is also checked in one ``python -m worker.run.cli validate`` process,
and the generated files each in their own process, as a user runs them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support import DUTCH, ENGLISH, ROOT
from worker.run.cli import app

BROKEN = ROOT / "tests" / "plans" / "broken"
CORPUS = sorted(BROKEN.glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (.+)$")
LOCATED = re.compile(r"^\d+:\d+: ")


def expectations(path: Path) -> list[str]:
    """The ``# expect:`` fragments at the top of a corpus file (none for other files)."""
    if not path.is_relative_to(BROKEN):
        return []
    fragments = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = EXPECT.match(line)
        if not match:
            break
        fragments.append(match[1])
    return fragments


# people[0].email, or communication["response time"] for a key that is not a plain word
FIELD = r'(?:[\w.\[\]-]|\["(?:[^"\\]|\\.)*"\])+'


def problem_line(path: Path) -> re.Pattern[str]:
    """``PATH:LINE:COL: field.path: message``, the contract of docs/architecture.md §2."""
    return re.compile(rf"^{re.escape(str(path))}:\d+:\d+: {FIELD}: .+$")


def assert_reported(path: Path, output: str) -> None:
    """Every line about ``path`` is located, and every expected fragment is among them."""
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.startswith(f"{path}:")]
    assert lines, output
    pattern = problem_line(path)
    for line in lines:
        assert pattern.match(line), line
    for fragment in expectations(path):
        if LOCATED.match(fragment):
            wanted = f"{path}:{fragment}"
            assert any(line.startswith(wanted) for line in lines), (wanted, lines)
        else:
            assert any(fragment in line for line in lines), (fragment, lines)


def run_validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "worker.run.cli", "validate", *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_the_corpus_covers_at_least_32_broken_plans() -> None:
    assert len(CORPUS) >= 32
    for path in CORPUS:
        assert expectations(path), f"{path.name} has no '# expect:' line"


@pytest.mark.parametrize("path", CORPUS, ids=lambda path: path.stem)
def test_a_broken_plan_is_reported_line_by_line(path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    assert_reported(path, result.stderr)


def test_several_errors_are_all_reported_in_one_run() -> None:
    path = BROKEN / "several-errors.yaml"
    result = CliRunner().invoke(app, ["validate", str(path)])
    lines = result.stderr.splitlines()
    assert len(expectations(path)) == 5
    assert len(lines) == 5, lines


def test_the_whole_corpus_in_one_process() -> None:
    result = run_validate(*CORPUS)
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stdout == ""
    patterns = [problem_line(path) for path in CORPUS]
    for line in result.stderr.splitlines():
        assert any(pattern.match(line) for pattern in patterns), line
    for path in CORPUS:
        assert_reported(path, result.stderr)


def test_the_examples_are_valid() -> None:
    result = run_validate(DUTCH, ENGLISH)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [str(DUTCH), str(ENGLISH)]


def test_a_valid_and_a_broken_plan_together_exit_1() -> None:
    broken = BROKEN / "bad-email.yaml"
    result = run_validate(DUTCH, broken)
    assert result.returncode == 1
    assert result.stdout.startswith(f"{DUTCH}: ok")
    assert_reported(broken, result.stderr)


# -- made by the tests -------------------------------------------------------------


def test_a_5_mb_plan_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    filler = "".join(
        f"  - Afspraak {n}: we antwoorden binnen twee werkdagen.\n" for n in range(100_000)
    )
    path.write_text(DUTCH.read_text() + filler)
    assert path.stat().st_size > 5_000_000
    result = run_validate(path)
    assert result.returncode == 1
    assert_reported(path, result.stderr)
    assert f"{path}:1:1: file: the file is 5." in result.stderr


def billion_laughs(levels: int = 9) -> str:
    """Nine levels of nine aliases each: 9**9 values if a loader expanded them all."""
    lines = ['lol: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"l{level}: &l{level} [{aliases}]")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs())
    result = run_validate(path)
    assert result.returncode == 1
    assert_reported(path, result.stderr)
    assert "plan: the plan expands to more than" in result.stderr


def test_an_alias_bomb_inside_a_real_plan_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    bomb = billion_laughs().replace("lol:", "x-lol:")
    path.write_text(DUTCH.read_text().replace("agreements:\n", f"{bomb}agreements:\n"))
    result = run_validate(path)
    assert result.returncode == 1
    assert_reported(path, result.stderr)
    assert "the plan expands to more than" in result.stderr


def test_a_zero_byte_file_is_an_empty_plan(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_bytes(b"")
    result = run_validate(path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"{path}:1:1: plan: the file is empty")
    assert_reported(path, result.stderr)


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(
        DUTCH.read_text()
        .replace("Coördinator", "Co\udcf6rdinator")
        .encode("utf-8", "surrogateescape")
    )
    result = run_validate(path)
    assert result.returncode == 1
    assert_reported(path, result.stderr)
    assert ": file: the file is not UTF-8 text" in result.stderr


def test_a_missing_file_and_a_folder(tmp_path: Path) -> None:
    missing, folder = tmp_path / "nowhere.yaml", tmp_path / "plans"
    folder.mkdir()
    result = run_validate(missing, folder)
    assert result.returncode == 1
    assert_reported(missing, result.stderr)
    assert_reported(folder, result.stderr)
