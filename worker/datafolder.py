"""Which clock a data folder belongs to: real time, or a rehearsal's or simulation's.

A ledger records what was sent and when. A rehearsal (``run --as-of``) or a
simulation sends on a clock that is not today's, so sharing a folder with real
time would use up real deliveries weeks early. Each data folder therefore says,
in a small file ``clock`` written at its first use, which clock it belongs to,
and a process on the other clock refuses it with one line.

A process runs on a virtual clock when ``PACTKEEPER_CLOCK_OFFSET`` is set.
``PACTKEEPER_REHEARSAL=1`` (set by ``run --as-of`` for the processes it starts)
keeps a rehearsal to its own folder: the embedded store and broker whatever
Redis is configured, and every message in its outbox.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

Clock = Literal["real", "virtual"]
MARKER = "clock"
REHEARSAL_ENV = "PACTKEEPER_REHEARSAL"
# An unmarked folder (from before the marks) that holds one is taken for real time's.
LEDGERS = ("pactkeeper.sqlite3",)


class WrongClock(Exception):
    """The data folder belongs to the other clock; the message is one line for people."""


def rehearsing() -> bool:
    """True in the processes of a rehearsal (``run --as-of``)."""
    return os.environ.get(REHEARSAL_ENV) == "1"


def clock_of(folder: Path) -> Clock | None:
    """The clock the folder is marked with, or None when it has no mark yet."""
    try:
        text = (folder / MARKER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise WrongClock(f"cannot read {folder / MARKER}: {error.strerror}") from None
    if text not in ("real", "virtual"):
        raise WrongClock(f"{folder / MARKER} should say real or virtual, not '{text[:40]}'")
    return "real" if text == "real" else "virtual"


def claim(folder: Path, virtual: bool) -> None:
    """Mark a new folder with the process's clock; refuse a folder of the other clock."""
    wanted: Clock = "virtual" if virtual else "real"
    found = clock_of(folder)
    if found is None:
        _mark(folder, wanted)
        found = clock_of(folder)  # another process may have marked it first
    if found != wanted:
        raise WrongClock(refusal(folder, wanted))


def claim_to_reset(folder: Path) -> None:
    """Claim a folder for a virtual clock that is about to empty it (a simulation, a
    rehearsal): never real time's, marked or, from before the marks, holding a ledger."""
    found = clock_of(folder)
    if found == "real" or (found is None and any((folder / n).exists() for n in LEDGERS)):
        raise WrongClock(refusal(folder, "virtual"))
    claim(folder, virtual=True)


def refusal(folder: Path, wanted: Clock) -> str:
    if wanted == "real":
        return (
            f"{folder} belongs to a rehearsal or a simulation (a virtual clock); "
            "a real-time command does not use it: set PACTKEEPER_DATA_DIR to the real data folder"
        )
    return (
        f"{folder} holds real-time data; a rehearsal or simulation needs a folder of its own "
        "and leaves this one alone"
    )


def _mark(folder: Path, clock: Clock) -> None:
    """Write the marker whole (aside, then linked), so two processes agree on one."""
    folder.mkdir(parents=True, exist_ok=True)
    draft = folder / f".{MARKER}.{os.getpid()}"
    draft.write_text(f"{clock}\n", encoding="utf-8")
    try:
        os.link(draft, folder / MARKER)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
