"""Helpers shared by the tests: small valid plans to edit, paths to the examples."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from config.load import load_text
from config.plan import Plan

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DUTCH = EXAMPLES / "voedselbank.yaml"
ENGLISH = EXAMPLES / "reading-club.yaml"

MINIMAL = textwrap.dedent(
    """\
    version: 1
    id: test-plan
    title: Test plan
    language: en
    timezone: Europe/Amsterdam
    start: 2027-01-04
    end: 2027-06-30
    partner: {name: Partner, contact: pia}
    team: {name: Team, lead: tim}
    people:
      - {id: pia, name: Pia, side: partner, email: pia@partner.example}
      - {id: tim, name: Tim, side: team, email: tim@team.example}
    challenge: {need: A need}
    goal: {end_result: A result, success_criteria: [It works]}
    communication:
      channels: {email: {}}
    """
)


def minimal_data() -> dict[str, Any]:
    """The minimal plan as plain data, to change and dump back."""
    data = YAML(typ="safe", pure=True).load(MINIMAL)
    assert isinstance(data, dict)
    return copy.deepcopy(data)


def dump(data: dict[str, Any]) -> str:
    """Plain data as plan YAML (dates as quoted text, as a coordinator would write them)."""
    import io

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def plan_from(data: dict[str, Any]) -> Plan:
    return load_text(dump(data), "<test>")


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``pactkeeper ARGS`` in its own process with this checkout's code, none of the
    caller's ``PACTKEEPER_`` settings, and ``env`` added."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PACTKEEPER_")}
    return subprocess.run(
        [sys.executable, "-m", "worker.run.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**clean, **env, "PYTHONPATH": str(ROOT)},
        timeout=300,
        check=False,
    )
