"""The outbox: every message as a file, exactly as it would have gone out.

E-mail lands as a complete ``.eml`` (the bytes SMTP would carry, calendar parts
included); chat lands as ``.json`` with the payload the service would receive.
It is where messages go when a channel is not configured for real, and what
``simulate`` writes. The file name comes from the ledger key, so writing the
same message twice leaves one file: like e-mail, the outbox de-duplicates.
"""

from __future__ import annotations

import os
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
        extension, data = self.inner.render(message)
        path = self.folder / outbox_name(message, extension)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            draft = path.with_name(f".{path.name}.part")
            draft.write_bytes(data)
            os.replace(draft, path)
        except OSError as error:
            raise ConnectorError("transient", f"outbox: cannot write ({error.strerror})") from None


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
