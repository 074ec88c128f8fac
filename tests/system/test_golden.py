"""The examples' outputs are byte-identical to the golden files kept in tests/golden/.

A difference fails with the list of files that changed, appeared or disappeared; if
every one is intended, ``scripts/golden`` rewrites the files and the commit says why.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from tests import golden


def _diff(name: str, kept: bytes, made: bytes) -> str:
    if name.endswith(".zip"):
        return f"{name}: {len(kept)} bytes kept, {len(made)} bytes made"
    lines = difflib.unified_diff(
        kept.decode("utf-8", "replace").splitlines(),
        made.decode("utf-8", "replace").splitlines(),
        f"kept/{name}",
        f"made/{name}",
        n=1,
        lineterm="",
    )
    return "\n".join(list(lines)[:40])


def test_the_examples_outputs_are_the_golden_ones(tmp_path: Path) -> None:
    golden.capture(tmp_path)
    kept, made = golden.files(golden.FOLDER), golden.files(tmp_path)
    assert kept, "no golden files kept: run scripts/golden"
    missing = sorted(set(kept) - set(made))
    extra = sorted(set(made) - set(kept))
    changed = sorted(name for name in set(kept) & set(made) if kept[name] != made[name])
    report = [f"missing: {name}" for name in missing] + [f"new: {name}" for name in extra]
    report += [_diff(name, kept[name], made[name]) for name in changed[:10]]
    assert not report, f"{len(changed)} changed\n" + "\n".join(report)
