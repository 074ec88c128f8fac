"""The outbox: every message as a file, exactly as it would have gone out.

E-mail lands as a complete ``.eml`` (the bytes SMTP would carry, calendar parts
included); chat lands as ``.json`` with the payload the service would receive.
It is where messages go when a channel is not configured for real, and what
``simulate`` writes. A message is known by its ledger key: writing the same
message twice, also later (a re-send after an unknown outcome), leaves the one
file of the first sending, so like e-mail the outbox de-duplicates.
"""

from __future__ import annotations

import hashlib
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from connectors.base import Connector, ConnectorError, Message


class OutboxConnector(Connector):
    deduplicates: ClassVar[bool] = True

    def __init__(self, inner: Connector, folder: Path) -> None:
        super().__init__(inner.config, inner.settings)
        self.inner = inner
        self.folder = folder
        self.channel = inner.channel  # type: ignore[misc]

    def render(self, message: Message) -> tuple[str, bytes]:
        return self.inner.render(message)

    def send(self, message: Message) -> None:
        extension, data = self.rendered(message)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / self._name(message, extension)
            if path.exists():
                return  # written before: a re-send reaches the outbox once, as it would a mailbox
            _write_new(path, data)
        except OSError as error:
            raise ConnectorError("transient", f"outbox: cannot write ({error.strerror})") from None

    def _name(self, message: Message, extension: str) -> str:
        """The file name of this message: the first sending's, kept for every re-send.

        The name starts with the send time, so the outbox sorts by time; a re-send
        (after an unknown outcome) happens later, so the name the first sending chose
        is kept under ``.sent/`` by key and channel, and found there in one step.
        """
        marks = self.folder / SENT
        marks.mkdir(exist_ok=True)
        mark = marks / _mark_name(message)
        name = outbox_name(message, extension)
        try:
            _link_new(mark, name.encode())
        except FileExistsError:
            return mark.read_text(encoding="utf-8").strip()
        return name


SENT = ".sent"


def _mark_name(message: Message) -> str:
    who = f"{message.plan_id}|{message.key}|{message.channel}|{message.recipient.id}"
    return hashlib.sha256(who.encode()).hexdigest()[:32]


def _write_new(path: Path, data: bytes) -> None:
    """``data`` as ``path``, whole or not at all (a reader never sees half a message)."""
    draft = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    draft.write_bytes(data)
    os.replace(draft, path)


def _link_new(path: Path, data: bytes) -> None:
    """``data`` as ``path`` unless it exists (FileExistsError): the first writer wins."""
    draft = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    draft.write_bytes(data)
    try:
        os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)


def outbox_name(message: Message, extension: str) -> str:
    """``20270111T0800Z_reminder_ana_whatsapp_<key>.json``: sorts by time, says what it is."""
    when = (message.when or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    parts = (
        when,
        message.plan_id,
        message.kind,
        message.recipient.id,
        message.channel,
        message.key[:12],
    )
    return "_".join(parts) + f".{extension}"


def files_of(folder: Path, plan_id: str, person_id: str | None = None) -> list[Path]:
    """The outbox files of a plan (of one person of it, when given), with the marks under
    ``.sent/`` that name them: what erasing the plan's or the person's data deletes.

    A name is ``<time>_<plan>_<kind>_<person>_<channel>_<key>.<ext>``; plan and person
    ids hold no ``_`` and a kind may, so the person is read from the right."""
    found: list[Path] = []
    if not folder.is_dir():
        return found

    def ours(name: str) -> bool:
        parts = name.split("_")
        if len(parts) < 6 or parts[1] != plan_id:
            return False
        return person_id is None or parts[-3] == person_id

    for path in sorted(folder.iterdir()):
        if path.is_file() and ours(path.name):
            found.append(path)
    marks = folder / SENT
    if marks.is_dir():
        for mark in sorted(marks.iterdir()):
            try:
                named = mark.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                continue
            if ours(named):
                found.append(mark)
    return found
