"""Golden outputs: what pactkeeper writes for the two example plans, kept byte for byte.

``capture(folder)`` writes, for each example, its ``timeline --json``, its runbook as
Markdown and HTML, the whole outbox and log of a ``simulate`` through the end of the
plan, and the handover bundle that simulation built. ``tests/system/test_golden.py``
captures again and compares with the files kept here; ``scripts/golden`` rewrites
them after a change whose every difference is intended (say which in the commit).

Two things vary from run to run and are normalised: the MIME boundaries of e-mails
(random by design) and nothing else. The signing key is fixed, so every link is the
same on every run.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from tests.support import DUTCH, ENGLISH, run_cli

FOLDER = Path(__file__).resolve().parent
PLANS = {"voedselbank": DUTCH, "reading-club": ENGLISH}
UNTIL = {"voedselbank": "2027-05-15", "reading-club": "2027-07-15"}
SIGNING_KEY = "golden-signing-key-0123456789"
_BOUNDARY = re.compile(rb"={15}\d+={2}")


def _cli(*args: str) -> str:
    result = run_cli(*args, PACTKEEPER_SECRET_KEY=SIGNING_KEY)
    if result.returncode != 0:
        raise RuntimeError(f"pactkeeper {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def _normalised(data: bytes) -> bytes:
    return _BOUNDARY.sub(b"===============BOUNDARY==", data)


def capture(folder: Path) -> None:
    """Write every golden output of both examples under ``folder/<example>/``."""
    for name, plan in PLANS.items():
        target = folder / name
        if target.exists():
            shutil.rmtree(target)
        (target / "outbox").mkdir(parents=True)
        (target / "timeline.json").write_text(_cli("timeline", "--json", str(plan)), "utf-8")
        (target / "runbook.md").write_text(_cli("runbook", "--format", "md", str(plan)), "utf-8")
        html = _cli("runbook", "--format", "html", str(plan))
        (target / "runbook.html").write_text(html, "utf-8")
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / "sim"
            _cli("simulate", str(plan), "--until", UNTIL[name], "--out", str(out))
            for sent in sorted((out / "outbox").iterdir()):
                if not sent.is_file():
                    continue  # the outbox's own bookkeeping (.sent/)
                (target / "outbox" / sent.name).write_bytes(_normalised(sent.read_bytes()))
            shutil.copyfile(out / "log.jsonl", target / "log.jsonl")
            shutil.copyfile(out / "handover.zip", target / "handover.zip")


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by its relative path (only the examples' folders)."""
    found: dict[str, bytes] = {}
    for name in PLANS:
        for path in sorted((folder / name).rglob("*")):
            if path.is_file():
                found[path.relative_to(folder).as_posix()] = path.read_bytes()
    return found
