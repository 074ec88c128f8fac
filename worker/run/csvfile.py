"""The CSV files ``simulate`` reads (check-ins, replies): opened and headed the same way."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TypeVar

T = TypeVar("T")


def read_rows(path: Path, parse: Callable[[IO[str]], T], error: type[ValueError]) -> T:
    """``parse`` of the file (UTF-8, a byte-order mark allowed); an unreadable file or one
    that is not UTF-8 is ``error`` with a one-line message naming the file."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return parse(handle)
    except OSError as strerror:
        raise error(f"{path}: cannot read ({strerror.strerror})") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text") from None


def reader(
    handle: IO[str], path: Path, needed: Sequence[str], error: type[ValueError]
) -> csv.DictReader[str]:
    """The rows of ``handle``, once its header has every column of ``needed``."""
    rows = csv.DictReader(handle)
    missing = [name for name in needed if name not in (rows.fieldnames or [])]
    if missing:
        raise error(
            f"{path}:1: the header needs {','.join(needed)} (missing: {', '.join(missing)})"
        )
    return rows
