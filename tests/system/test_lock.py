"""The lock (requirements/, made by uv through scripts/lock) and pyproject.toml agree.

Run in a clone of the repository, so the working tree is never touched: refreshing the
lock on a clean tree changes nothing, and a dependency added to pyproject.toml without
relocking makes ``scripts/lock --check`` fail and say which file to refresh.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def lock(clone: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    # uv as this interpreter has it (requirements/test.txt pins it), ahead of any other.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        ["bash", "scripts/lock", *arguments],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_lock_matches_pyproject_and_a_change_without_relocking_fails(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)

    refreshed = lock(clone)
    assert refreshed.returncode == 0, refreshed.stderr
    diff = subprocess.run(["git", "diff"], cwd=clone, capture_output=True, text=True, check=True)
    assert diff.stdout == ""  # the committed lock is what the tool makes
    checked = lock(clone, "--check")
    assert checked.returncode == 0, checked.stderr

    pyproject = clone / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    assert '    "requests>=2.31",\n' in text
    pyproject.write_text(
        text.replace('    "requests>=2.31",\n', '    "requests>=2.31",\n    "humanize>=4",\n'),
        encoding="utf-8",
    )
    stale = lock(clone, "--check")
    assert stale.returncode == 1
    assert "requirements/run.txt does not match pyproject.toml; run scripts/lock" in stale.stderr
    assert "+humanize==" in stale.stderr
    # --check changed nothing: the lock still is the committed one.
    after = subprocess.run(
        ["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True, check=True
    )
    assert after.stdout.strip() == "M pyproject.toml"
