"""A BagIt bag written in memory and zipped deterministically (RFC 8493, as bagit-python writes it).

Why not ``bagit.make_bag``: it works by ``os.chdir`` into the bag folder, which
changes the working directory of the whole process while it runs. A Celery
worker, the web app or two threads closing plans at once (the race test) would
read and write relative paths (the default data folder is relative) in the
wrong place. So the bag is written here, file for file what ``make_bag`` writes
for the same payload and ``bag-info`` (``tests/unit/test_handover_bag.py``
compares the two byte for byte), and ``bagit.Bag(...).validate()`` checks every
bundle in the tests.

The zip is the same bytes for the same files: entries in a fixed order, one
fixed timestamp, fixed permissions and no extra fields.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Mapping
from datetime import date

BAGIT_TXT = b"BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n"
ALGORITHM = "sha256"
COMPRESSION_LEVEL = 6
FILE_MODE = 0o100644  # a regular file, rw-r--r--
UNIX = 3  # the "made by" system of every entry, whatever the system that builds it


def _walk_order(path: str) -> tuple[tuple[int, str], ...]:
    """The order ``os.walk`` with sorted names gives: a folder's files before its sub-folders."""
    parts = path.split("/")
    return (*((1, part) for part in parts[:-1]), (0, parts[-1]))


def _encode(name: str) -> str:
    """File names in a manifest: line breaks percent-encoded, as bagit-python does."""
    return name.replace("\r", "%0D").replace("\n", "%0A")


def _tag_file(info: Mapping[str, str]) -> bytes:
    # Line breaks would end the value early: bagit-python drops them too.
    lines = [f"{key}: {_one_line(value)}\n" for key, value in sorted(info.items())]
    return "".join(lines).encode("utf-8")


def _one_line(value: str) -> str:
    return value.replace("\r", "").replace("\n", "")


def make_bag(payload: Mapping[str, bytes], info: Mapping[str, str]) -> dict[str, bytes]:
    """The files of a bag (paths relative to the bag's folder) holding ``payload`` under data/.

    ``info`` goes into bag-info.txt with the Payload-Oxum added; give it a
    ``Bagging-Date`` and a ``Bag-Software-Agent``, or the bag would not be the
    same tomorrow.
    """
    files = {f"data/{path}": data for path, data in payload.items()}
    manifest = "".join(
        f"{hashlib.sha256(files[path]).hexdigest()}  {_encode(path)}\n"
        for path in sorted(files, key=_walk_order)
    )
    oxum = f"{sum(len(data) for data in files.values())}.{len(files)}"
    tags = {
        "bagit.txt": BAGIT_TXT,
        "bag-info.txt": _tag_file({**info, "Payload-Oxum": oxum}),
        f"manifest-{ALGORITHM}.txt": manifest.encode("utf-8"),
    }
    tagmanifest = "".join(
        f"{hashlib.sha256(tags[name]).hexdigest()} {name}\n" for name in sorted(tags)
    )
    return {**files, **tags, f"tagmanifest-{ALGORITHM}.txt": tagmanifest.encode("utf-8")}


def zip_timestamp(day: date) -> tuple[int, int, int, int, int, int]:
    """Midnight of ``day`` as a zip time stamp, kept inside what a zip can hold (1980-2107)."""
    year = min(max(day.year, 1980), 2107)
    return (year, day.month, day.day, 0, 0, 0)


def zip_folder(files: Mapping[str, bytes], folder: str, day: date) -> bytes:
    """``files`` inside ``folder/`` in a zip whose bytes depend on nothing else."""
    stamp = zip_timestamp(day)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(files):
            entry = zipfile.ZipInfo(f"{folder}/{path}", date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.create_system = UNIX
            entry.external_attr = FILE_MODE << 16
            archive.writestr(entry, files[path], compresslevel=COMPRESSION_LEVEL)
    return buffer.getvalue()
