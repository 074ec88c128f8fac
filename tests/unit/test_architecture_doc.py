"""A newcomer can trust docs/architecture.md: every path it names exists, and it says
where every ledger kind and every channel lives, with paths."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectors.registry import CONNECTORS
from worker.kinds import KINDS

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
# A path in backticks: a name with a slash or a file suffix (`worker/kinds.py`, `config/`).
PATH = re.compile(
    r"`([A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]*)+|[A-Za-z0-9_\-]+\.(?:py|md|j2|toml|txt))`"
)
# Names in backticks that are not paths of this repository.
NOT_PATHS = {"broken/"}  # the broker's folder for undecodable messages, made at run time


def named_paths() -> set[str]:
    return {m for m in PATH.findall(DOC) if m not in NOT_PATHS and not m.startswith("DATA_DIR")}


def table_rows(heading: str) -> dict[str, str]:
    """First cell (a backticked name) -> the rest of the row, for the table under ``heading``."""
    section = DOC.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\| `([a-z_]+)` \|(.*)\|\s*$", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_the_doc_names_paths() -> None:
    assert len(named_paths()) > 40


@pytest.mark.parametrize("path", sorted(named_paths()))
def test_every_path_named_exists(path: str) -> None:
    assert (ROOT / path).exists(), f"docs/architecture.md names {path}, which does not exist"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_is_placed_with_a_path(kind: str) -> None:
    rows = table_rows("## 13.")
    assert kind in rows, f"the kinds table of §13 has no row for {kind}"
    paths = [p for p in PATH.findall(rows[kind]) if p.endswith(".py")]
    assert paths and all((ROOT / p).exists() for p in paths), rows[kind]
    # The step or draft module the table names is the one worker/kinds.py wires.
    handler = KINDS[kind].step or KINDS[kind].draft
    assert handler is not None
    module = handler.__module__.replace(".", "/") + ".py"
    assert module in paths, f"{kind}: the doc names {paths}, the table wires {module}"


@pytest.mark.parametrize("channel", sorted(CONNECTORS))
def test_every_channel_is_placed_with_a_path(channel: str) -> None:
    rows = table_rows("## 14.")
    assert channel in rows, f"the channel table of §14 has no row for {channel}"
    module = CONNECTORS[channel].split(":")[0].replace(".", "/") + ".py"
    assert f"`{module}`" in rows[channel], f"{channel} lives in {module}"
