"""Real calendar clients' parsers, run on .ics files: ical.js (Thunderbird) and libical
(Evolution). Each reads the files and prints what it understood as JSON (see the
programs beside this file); ``Client.read`` gives that back as ``Reading`` records.

What they need is installed by ``scripts/test-tools``; when something is missing the
tests fail with that advice (a client that is not run proves nothing).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
INSTALL = "run scripts/test-tools (it installs node, ical.js, gcc, pkg-config and libical-dev)"


class ClientMissing(RuntimeError):
    """A client cannot run on this machine; the message says what to install."""


@dataclass(frozen=True)
class Seen:
    """One VEVENT as a client read it. Times are UTC instants ('...Z') or dates."""

    uid: str
    start: str | None
    end: str | None
    occurrences: tuple[str, ...]


@dataclass(frozen=True)
class Reading:
    """One file as a client read it."""

    file: str
    method: str | None
    errors: tuple[str, ...]
    restriction_errors: tuple[str, ...]
    events: tuple[Seen, ...]


@dataclass(frozen=True)
class Client:
    name: str
    command: tuple[str, ...]

    def read(self, files: list[Path]) -> list[Reading]:
        done = subprocess.run(
            [*self.command, *map(str, files)], capture_output=True, timeout=300, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{self.name} exited {done.returncode}: {done.stderr[-2000:]!r}")
        return [_reading(record) for record in json.loads(done.stdout)]


def _reading(record: dict[str, Any]) -> Reading:
    events = tuple(
        Seen(e["uid"], e["start"], e["end"], tuple(e["occurrences"])) for e in record["events"]
    )
    return Reading(
        file=record["file"],
        method=record["method"],
        errors=tuple(record["errors"]),
        restriction_errors=tuple(record.get("restriction_errors", ())),
        events=events,
    )


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ClientMissing(f"{name} is not installed: {INSTALL}")
    return found


def icaljs() -> Client:
    """ical.js from tests/clients/node_modules, run by node."""
    node = _tool("node")
    if not (HERE / "node_modules" / "ical.js" / "package.json").is_file():
        raise ClientMissing(f"ical.js is not in {HERE / 'node_modules'}: {INSTALL}")
    return Client("ical.js", (node, str(HERE / "icaljs_events.mjs")))


def libical(folder: Path) -> Client:
    """tests/clients/libical_events.c compiled into ``folder`` against the system libical."""
    gcc, pkg_config = _tool("gcc"), _tool("pkg-config")
    flags = subprocess.run(
        [pkg_config, "--cflags", "--libs", "libical"], capture_output=True, text=True, check=False
    )
    if flags.returncode != 0:
        raise ClientMissing(f"pkg-config finds no libical ({flags.stderr.strip()}): {INSTALL}")
    program = folder / "libical_events"
    source = HERE / "libical_events.c"
    command = [gcc, "-O1", "-Wall", "-o", str(program), str(source), *flags.stdout.split()]
    built = subprocess.run(command, capture_output=True, text=True, check=False)
    if built.returncode != 0:
        raise ClientMissing(f"gcc could not build {source.name}: {built.stderr[-2000:]}")
    return Client("libical", (str(program),))
