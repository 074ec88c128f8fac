"""Reply parsing: e-mail replies per second through the whole reading path (issue 12).

Beside ``email.message_from_bytes`` alone on the same messages, in the same run:

- ``read``: ``read_mail`` (MIME, charsets, what it is about, auto-reply, quote and
  signature stripping) and then ``read_answer`` (status, note, opt-out) on its text;
- ``read_mail``: the mail half of it alone, to show where the time goes;
- ``message_from_bytes``: the stdlib parser only, the floor any reading path stands on.

The messages are the corpus of tests/fixtures/replies (73 replies from every client). Each
round reads every message ``--repeat`` times; the figures are medians over ``--rounds``.
The path under test is one function of the raw bytes (``PATHS``, chosen with ``--path``),
so the store path (``take_mail``) can be measured the same way.

Prints figures; asserts nothing. ``python bench/bench_replies.py [--rounds 7] [--repeat 20]``
"""

from __future__ import annotations

import argparse
import email
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.settings import Settings
from worker.inbound.mail import read_mail
from worker.inbound.reading import read_answer

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests/fixtures/replies"
SETTINGS = Settings(signing_key="b" * 32, reply_address="reply@org.example")

Reader = Callable[[bytes], object]


def reading_path(raw: bytes) -> object:
    return read_answer(read_mail(raw, SETTINGS).text)


def mail_only(raw: bytes) -> object:
    return read_mail(raw, SETTINGS)


PATHS: dict[str, Reader] = {"read": reading_path}


def per_second(
    readers: dict[str, Reader], messages: list[bytes], rounds: int, repeat: int
) -> dict[str, list[float]]:
    """Messages per second of each reader, one figure per round; the readers take turns
    within a round, so a busy machine slows them alike."""
    for reader in readers.values():  # warm-up: imports, regex compilation, codec lookups
        for raw in messages:
            reader(raw)
    figures: dict[str, list[float]] = {label: [] for label in readers}
    for _ in range(rounds):
        for label, reader in readers.items():
            began = time.perf_counter()
            for _ in range(repeat):
                for raw in messages:
                    reader(raw)
            figures[label].append(repeat * len(messages) / (time.perf_counter() - began))
    return figures


def line(label: str, figures: list[float]) -> str:
    spread = f"min {min(figures):,.0f}, max {max(figures):,.0f}"
    return f"  {label:<24} median {statistics.median(figures):>10,.0f} replies/s  ({spread})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--path", choices=sorted(PATHS), default="read")
    args = parser.parse_args()
    messages = [path.read_bytes() for path in sorted(CORPUS.glob("*.eml"))]
    size = sum(map(len, messages)) // len(messages)
    print(
        f"{len(messages)} corpus replies (mean {size:,} bytes), "
        f"{args.rounds} rounds of {args.repeat} passes"
    )
    readers = {
        args.path: PATHS[args.path],
        "read_mail alone": mail_only,
        "message_from_bytes": email.message_from_bytes,
    }
    figures = per_second(readers, messages, args.rounds, args.repeat)
    for label, found in figures.items():
        print(line(label, found))
    medians = {label: statistics.median(found) for label, found in figures.items()}
    ratio = medians[args.path] / medians["message_from_bytes"]
    print(f"  ratio {args.path} / message_from_bytes: {ratio:.2f}")


if __name__ == "__main__":
    main()
