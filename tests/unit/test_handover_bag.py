"""``worker.handover.bag`` writes the bag ``bagit.make_bag`` writes, byte for byte, without
``os.chdir``; its zip depends on nothing but the files and the day."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path

import bagit
import pytest

from worker.handover.bag import make_bag, zip_folder, zip_timestamp

PAYLOAD = {
    "handover.md": "# Overdracht\n\nÉén regel met accenten.\n".encode(),
    "people.csv": b"name,side\r\nAna,partner\r\n",
    "documents/docs/beheer.md": b"Beheer\n",
    "documents/z/a/deep.txt": b"deep\n",
    "zz.txt": b"",
}
INFO = {
    "Bag-Software-Agent": "pactkeeper test",
    "Bagging-Date": "2027-05-01",
    "External-Identifier": "voedselbank-aanmelden",
}


def test_the_bag_is_what_bagit_writes(tmp_path: Path) -> None:
    folder = tmp_path / "reference"
    for name, data in PAYLOAD.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    bagit.make_bag(str(folder), dict(INFO), checksums=["sha256"])
    ours = make_bag(PAYLOAD, INFO)
    theirs = {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }
    assert set(ours) == set(theirs)
    for name in ours:
        if name.startswith("tagmanifest-"):
            # bagit lists the tag files in the order the file system gives; ours are sorted.
            assert sorted(ours[name].splitlines()) == sorted(theirs[name].splitlines())
            assert ours[name].splitlines() == sorted(ours[name].splitlines(), key=_file_name)
        else:
            assert ours[name] == theirs[name], name


def _file_name(line: bytes) -> bytes:
    return line.split(b" ", 1)[1]


def test_the_zip_is_valid_and_the_same_each_time(tmp_path: Path) -> None:
    files = make_bag(PAYLOAD, INFO)
    first = zip_folder(files, "plan-handover", date(2027, 5, 1))
    assert first == zip_folder(
        dict(reversed(list(files.items()))), "plan-handover", date(2027, 5, 1)
    )
    assert first != zip_folder(files, "plan-handover", date(2027, 5, 2))
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names == sorted(names)
        assert {i.date_time for i in archive.infolist()} == {(2027, 5, 1, 0, 0, 0)}
        archive.extractall(tmp_path)
    bagit.Bag(str(tmp_path / "plan-handover")).validate()


def test_a_changed_file_fails_validation(tmp_path: Path) -> None:
    with zipfile.ZipFile(
        io.BytesIO(zip_folder(make_bag(PAYLOAD, INFO), "b", date(2027, 5, 1)))
    ) as z:
        z.extractall(tmp_path)
    (tmp_path / "b" / "data" / "people.csv").write_bytes(b"name,side\r\nMallory,partner\r\n")
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(tmp_path / "b")).validate()


def test_zip_time_stamps_stay_inside_what_a_zip_holds() -> None:
    assert zip_timestamp(date(1970, 6, 1)) == (1980, 6, 1, 0, 0, 0)
    assert zip_timestamp(date(2200, 6, 1)) == (2107, 6, 1, 0, 0, 0)
