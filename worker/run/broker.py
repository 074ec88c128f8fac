"""The embedded broker: kombu's filesystem transport, made safe for torn messages.

kombu's own ``filesystem://`` transport creates a message's file in the queue
folder and only then writes it, and its consumer reads without the writer's lock:
a consumer that lists the folder in between reads an empty or half-written file,
fails to decode it, and the Celery worker stops ("Unrecoverable error:
JSONDecodeError", kombu issue 1551). This transport changes two things:

- A publisher writes the whole message under ``drafts/`` and then renames it
  into ``queue/`` (same filesystem, so the rename is atomic): the queue holds
  complete messages only. A publisher killed half way leaves a draft, which the
  next start removes once it is a few minutes old.
- A consumer takes a message by renaming it into ``claimed/`` (one consumer wins),
  and a message it cannot decode, however it got there, goes to ``broken/`` with
  one log line instead of stopping the worker.

It is registered by name (``broker_transport``), not found by scanning folders.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import logging
import os
import time
import uuid
from pathlib import Path
from queue import Empty
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils import json as kombu_json

# kombu's JSON (it also carries dates and UUIDs) has no type hints.
JSON: Any = kombu_json

log = logging.getLogger("pactkeeper.broker")

NAME = "worker.run.broker:Transport"
FOLDERS = ("queue", "drafts", "claimed", "broken", "control")
STALE_SECONDS = 300.0  # no publisher or consumer holds a file this long

_tidied: set[Path] = set()


def transport_options(root: Path) -> dict[str, Any]:
    """The options for a broker kept in ``root`` (created here)."""
    for name in FOLDERS:
        (root / name).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(root / "queue"),
        "data_folder_out": str(root / "queue"),
        # kombu keeps its exchange tables here (by default: ./control in the working folder).
        "control_folder": str(root / "control"),
    }


def tidy(root: Path, now: float) -> None:
    """Remove stale drafts (their publishers died) and put stale claims back in the queue
    (their consumer died between taking and reading; the ledger makes a second run a no-op)."""
    for draft in _older(root / "drafts", now):
        draft.unlink(missing_ok=True)
    for taken in _older(root / "claimed", now):
        with contextlib.suppress(FileNotFoundError):
            os.rename(taken, root / "queue" / taken.name)


def _older(folder: Path, now: float) -> list[Path]:
    found = []
    for path in folder.iterdir() if folder.is_dir() else []:
        try:
            if now - path.stat().st_mtime > STALE_SECONDS:
                found.append(path)
        except FileNotFoundError:
            continue
    return found


class Channel(filesystem.Channel):
    """Atomic publish, and a consumer that sets aside what it cannot read."""

    @property
    def root(self) -> Path:
        root = Path(self.data_folder_in).parent
        if root not in _tidied:  # once per process, at its first use of the broker
            _tidied.add(root)
            tidy(root, time.time())
        return root

    # kombu's own bases disagree on this signature; this one is what the virtual channel calls.
    def _put(self, queue: Any, message: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{time.time_ns() // 1_000_000}_{uuid.uuid4()}.{queue}.msg"  # sorts oldest first
        draft = self.root / "drafts" / name
        try:
            write_draft(draft, JSON.dumps(message).encode("utf-8"))
            os.replace(draft, Path(self.data_folder_out) / name)
        except OSError as error:
            raise ChannelError(f"cannot add {name} to the queue: {error.strerror}") from error

    def _queue_bind(self, exchange: Any, routing_key: Any, pattern: Any, queue: Any) -> None:
        """Bind a queue, replacing the exchange table whole: kombu's own rewrites the file in
        place, so a publisher reading it meanwhile could find it empty."""
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        kombu: Any = super()  # its methods have no type hints
        table_file = kombu._exchange_file(exchange)
        with (self.root / "control" / ".lock").open("a") as guard:
            fcntl.flock(guard.fileno(), fcntl.LOCK_EX)
            table = list(kombu.get_table(exchange))
            if entry in table:
                return
            draft = self.root / "drafts" / f"{table_file.name}.{uuid.uuid4()}"
            write_draft(draft, JSON.dumps([entry, *table]).encode("utf-8"))
            os.replace(draft, table_file)

    def _get(self, queue: Any, timeout: Any = None) -> Any:
        wanted = f"{queue}.msg"
        folder = Path(self.data_folder_in)
        for name in sorted(os.listdir(folder)):
            if name.partition(".")[2] != wanted:
                continue
            taken = self.root / "claimed" / name
            try:
                os.rename(folder / name, taken)
            except FileNotFoundError:
                continue  # another consumer took it
            payload = self._read(taken)
            if payload is not None:
                return payload
        raise Empty()

    def _read(self, taken: Path) -> Any:
        """The message in ``taken`` (then removed), or None when it was set aside."""
        try:
            raw = taken.read_bytes()
        except OSError as error:
            raise ChannelError(f"cannot read {taken}: {error.strerror}") from error
        payload = self._decoded(raw)
        if payload is None:
            os.replace(taken, self.root / "broken" / taken.name)
            log.warning(
                "broker: a message that cannot be read was set aside: %s (%d bytes)",
                self.root / "broken" / taken.name,
                len(raw),
            )
            return None
        taken.unlink(missing_ok=True)
        return payload

    def _decoded(self, raw: bytes) -> Any:
        """The payload when it is a message kombu can deliver, else None."""
        try:
            payload = JSON.loads(raw.decode("utf-8"))
            properties = payload["properties"]
            if payload.get("body") and properties.get("body_encoding") == "base64":
                base64.b64decode(payload["body"], validate=True)
            deliverable = "delivery_tag" in properties  # what kombu's Message needs
        except Exception:  # any way a file can be wrong is the same to the consumer
            return None
        return payload if deliverable else None


def write_draft(path: Path, data: bytes) -> None:
    """Write a message under its draft name (the queue does not see it yet)."""
    with path.open("xb") as handle:
        handle.write(data)


class Transport(filesystem.Transport):
    Channel = Channel
    driver_name = "pactkeeper-filesystem"

    @property
    def default_connection_params(self) -> dict[str, Any]:
        # No host: a folder needs none (kombu would log "No hostname was supplied").
        return {"port": self.default_port}
