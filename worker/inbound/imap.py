"""The IMAP poller: replies that reach a mailbox become answers (docs/architecture.md §16).

``poll(engine, now)`` is the beat task ``imap_poll``. With ``PACTKEEPER_IMAP_URL`` set
(``imaps://user@host[:port]/FOLDER``, or ``imap://`` with STARTTLS; plain IMAP only to a
loopback address) and the password in ``PACTKEEPER_IMAP_PASSWORD`` (or ``_FILE``), it
logs in (trusting ``imap_ca_file`` too, for a private CA), and reads every message of
the folder by UID, in batches, without marking it seen (``BODY.PEEK[]``). Each message
goes to ``worker.inbound.mailin.take_mail``, the path of ``pactkeeper mail-in``; then it
is moved (``UID MOVE``, else ``COPY`` + ``STORE \\Deleted`` + ``EXPUNGE``) to
``imap_folder_done``, or to ``imap_folder_refused`` when it was refused. Both are
created when missing; a ``/`` in their names is the server's own folder separator.

What it promises:

- **Read once.** A handled message leaves the folder. A poller killed between handling a
  message and moving it reads it again next time, and the core's duplicate check (the
  Message-ID) answers it once.
- **One at a time.** A lease record in the store (renewed after every batch) lets only
  one poller work; a second beat or worker finds it held and does nothing. The lease of
  a poller that died ends after ``LEASE_SECONDS``.
- **Trouble is one line.** An unreachable server, a refused login, a missing folder, a
  bad certificate: one log line (never the password), nothing changed, and the next poll
  tries again. A message over ``SIZE_LIMIT`` is not downloaded: it is refused
  (``too_large``) and moved to the refused folder, like one ``take_mail`` failed on
  (logged once with its traceback: never read again at every poll).
- **Bounded.** A poll stops after ``POLL_SECONDS``, inside the task time limit; what is
  left waits for the next one.
"""

from __future__ import annotations

import imaplib
import ipaddress
import logging
import re
import ssl
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from worker.inbound.mail import MAX_BYTES
from worker.inbound.mailin import take_mail
from worker.inbound.replies import Outcome
from worker.store import Store, records

if TYPE_CHECKING:
    from config.settings import Settings
    from worker.engine import Engine

log = logging.getLogger("pactkeeper.inbound")

BATCH = 25  # messages fetched in one round trip
SIZE_LIMIT = MAX_BYTES  # the inbound cap of mail reading: bigger is refused unread
TIMEOUT = 30.0  # seconds for any one IMAP exchange
LEASE_SECONDS = 120.0
POLL_SECONDS = 240.0  # inside the task time limit (worker/run/app.py)
LEASE = "imap"  # the lease record's id in records.POLLERS


class ImapProblem(Exception):
    """Why a poll could not go on, in one line that holds no secret."""


@dataclass(frozen=True)
class Mailbox:
    """Where the replies are: from ``PACTKEEPER_IMAP_URL``."""

    tls: bool
    host: str
    port: int
    user: str
    folder: str

    @classmethod
    def parse(cls, url: str) -> Mailbox:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ImapProblem("PACTKEEPER_IMAP_URL is not a URL") from None
        if parts.scheme not in ("imap", "imaps"):
            raise ImapProblem("PACTKEEPER_IMAP_URL must start with imaps:// or imap://")
        if parts.password is not None:
            raise ImapProblem(
                "PACTKEEPER_IMAP_URL holds a password: put it in PACTKEEPER_IMAP_PASSWORD"
            )
        if not parts.hostname or not parts.username:
            raise ImapProblem(
                "PACTKEEPER_IMAP_URL needs a user and a host: imaps://user@host/INBOX"
            )
        tls = parts.scheme == "imaps"
        folder = unquote(parts.path.lstrip("/")) or "INBOX"
        return cls(
            tls, parts.hostname, port or (993 if tls else 143), unquote(parts.username), folder
        )

    def __str__(self) -> str:
        scheme = "imaps" if self.tls else "imap"
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{self.folder}"


@dataclass
class PollResult:
    outcomes: Counter[str] = field(default_factory=Counter)  # take_mail's result -> count
    done: int = 0  # moved to the done folder
    refused: int = 0  # moved to the refused folder
    problem: str = ""  # why the poll stopped early or did not start
    busy: bool = False  # another poller holds the lease

    @property
    def handled(self) -> int:
        return sum(self.outcomes.values())


def poll(engine: Engine, now: float) -> PollResult:
    """Read the mailbox once (see the module docstring); never raises for the server's
    or the settings' sake."""
    settings = engine.settings
    if settings.imap_url is None:
        return PollResult(problem="PACTKEEPER_IMAP_URL is not set")
    result = PollResult()
    try:
        mailbox = Mailbox.parse(settings.imap_url)
    except ImapProblem as problem:
        result.problem = str(problem)
        log.warning("imap: %s; nothing was read", problem)
        return result
    holder = uuid.uuid4().hex
    if not take_lease(engine.store, holder, now):
        return PollResult(busy=True)
    clock = Elapsed(now)
    try:
        with session(settings, mailbox) as imap:
            _read(engine, imap, mailbox, holder, clock, result)
    except ImapProblem as problem:
        result.problem = str(problem)
    except (OSError, imaplib.IMAP4.error) as error:
        where = f"{mailbox.host}:{mailbox.port}"
        result.problem = f"the session with {where} broke off: {_scrubbed(settings, error)}"
    finally:
        release_lease(engine.store, holder)
    if result.problem:
        log.warning("imap: %s; nothing more was read, the next poll tries again", result.problem)
    if result.handled:
        told = ", ".join(f"{count} {name}" for name, count in sorted(result.outcomes.items()))
        log.info("imap: %d messages read (%s)", result.handled, told)
    return result


class Elapsed:
    """``now`` moving on with the wall clock during one poll."""

    def __init__(self, now: float) -> None:
        self.start = now
        self.began = time.monotonic()

    def now(self) -> float:
        return self.start + (time.monotonic() - self.began)

    def spent(self) -> float:
        return time.monotonic() - self.began


# -- the lease -------------------------------------------------------------------------


def take_lease(store: Store, holder: str, now: float) -> bool:
    """True when ``holder`` may poll: no lease, or the last one has ended."""
    lease = {"holder": holder, "until": now + LEASE_SECONDS}
    current = store.put_record_once(records.POLLERS, LEASE, lease)
    if current is None:
        return True
    if float(current.get("until", 0)) > now:
        return False
    expect = {"holder": current.get("holder"), "until": current.get("until")}
    return store.update_record(records.POLLERS, LEASE, expect, lease, seen=current)


def renew_lease(store: Store, holder: str, now: float) -> bool:
    """Keep the lease while working; False when it was lost (this poller was too slow)."""
    current = store.get_record(records.POLLERS, LEASE)
    if current is None or current.get("holder") != holder:
        return False
    changes = {"until": now + LEASE_SECONDS}
    return store.update_record(
        records.POLLERS, LEASE, {"holder": holder, "until": current["until"]}, changes
    )


def release_lease(store: Store, holder: str) -> None:
    current = store.get_record(records.POLLERS, LEASE)
    if current is not None and current.get("holder") == holder:
        store.update_record(
            records.POLLERS, LEASE, {"holder": holder, "until": current["until"]}, {"until": 0}
        )


# -- the session -----------------------------------------------------------------------


@contextmanager
def session(settings: Settings, mailbox: Mailbox) -> Iterator[imaplib.IMAP4]:
    """A logged-in connection; logged out (or dropped) at the end."""
    if settings.imap_password is None:
        raise ImapProblem("PACTKEEPER_IMAP_PASSWORD (or PACTKEEPER_IMAP_PASSWORD_FILE) is not set")
    imap = _connect(settings, mailbox)
    try:
        try:
            imap.login(mailbox.user, settings.imap_password.get_secret_value())
        except imaplib.IMAP4.error as error:
            raise ImapProblem(
                # The user is an address: the log says which setting holds it instead.
                f"{mailbox.host} refused the login of the user in PACTKEEPER_IMAP_URL: "
                f"{_scrubbed(settings, error)}"
            ) from None
        yield imap
    finally:
        _close(imap)


def _connect(settings: Settings, mailbox: Mailbox) -> imaplib.IMAP4:
    context = ssl.create_default_context()
    if settings.imap_ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(settings.imap_ca_file))
        except (OSError, ssl.SSLError) as error:
            reason = getattr(error, "strerror", None) or "it holds no certificate"
            raise ImapProblem(
                f"PACTKEEPER_IMAP_CA_FILE={settings.imap_ca_file} cannot be used: {reason}"
            ) from None
    where = f"{mailbox.host}:{mailbox.port}"
    try:
        if mailbox.tls:
            return imaplib.IMAP4_SSL(
                mailbox.host, mailbox.port, ssl_context=context, timeout=TIMEOUT
            )
        imap = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=TIMEOUT)
    except ssl.SSLError as error:
        raise ImapProblem(f"no trusted TLS connection to {where}: {error.reason}") from None
    except OSError as error:
        raise ImapProblem(f"cannot reach {where}: {error.strerror or error}") from None
    if "STARTTLS" in imap.capabilities:
        try:
            imap.starttls(ssl_context=context)
        except ssl.SSLError as error:
            _close(imap)
            raise ImapProblem(f"no trusted TLS connection to {where}: {error.reason}") from None
    elif not loopback(mailbox.host):
        _close(imap)
        raise ImapProblem(
            f"{where} offers no STARTTLS: use imaps:// (plain IMAP is only for a loopback address)"
        )
    return imap


def loopback(host: str) -> bool:
    """True for an address that never leaves the machine: plain IMAP is allowed there."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _close(imap: imaplib.IMAP4) -> None:
    try:
        imap.logout()
    except (OSError, imaplib.IMAP4.error):
        with suppress(OSError):
            imap.shutdown()


def _scrubbed(settings: Settings, error: BaseException) -> str:
    """The error in one line, the password taken out should a server echo it."""
    said = error.args[0] if error.args else ""
    if isinstance(error, OSError) and error.strerror:
        said = error.strerror
    text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
    text = " ".join(text.split()) or type(error).__name__
    secret = settings.imap_password.get_secret_value() if settings.imap_password else ""
    if secret:
        text = text.replace(secret, "***")
    return text[:300]


# -- reading and moving ----------------------------------------------------------------


def _read(
    engine: Engine,
    imap: imaplib.IMAP4,
    mailbox: Mailbox,
    holder: str,
    clock: Elapsed,
    result: PollResult,
) -> None:
    folders = Folders(imap, engine.settings)
    for setting, name in (
        ("PACTKEEPER_IMAP_FOLDER_DONE", engine.settings.imap_folder_done),
        ("PACTKEEPER_IMAP_FOLDER_REFUSED", engine.settings.imap_folder_refused),
    ):
        if _same_folder(folders.name(name), mailbox.folder):
            raise ImapProblem(f"{setting} is {name}, the folder being read: name another one")
    status, answer = imap.select(_quoted(mailbox.folder))
    if status != "OK":
        raise ImapProblem(f"the folder {mailbox.folder} cannot be opened: {_said(answer)}")
    uids = _ok(imap.uid("SEARCH", "UNDELETED"), "SEARCH")[0].split()
    for start in range(0, len(uids), BATCH):
        batch = [uid.decode() for uid in uids[start : start + BATCH]]
        done, refused = _handle(engine, imap, batch, clock, result)
        folders.move(done, engine.settings.imap_folder_done)
        folders.move(refused, engine.settings.imap_folder_refused)
        result.done += len(done)
        result.refused += len(refused)
        if not renew_lease(engine.store, holder, clock.now()):
            raise ImapProblem("another poller took over the lease; this one stops")
        if clock.spent() > POLL_SECONDS:
            break


def _handle(
    engine: Engine, imap: imaplib.IMAP4, batch: list[str], clock: Elapsed, result: PollResult
) -> tuple[list[str], list[str]]:
    """Hand each message of ``batch`` to the core: the UIDs done, and those refused."""
    sizes = _sizes(imap, batch)
    small = [uid for uid in batch if sizes.get(uid, 0) <= SIZE_LIMIT]
    done: list[str] = []
    refused: list[str] = []
    for uid in batch:
        if uid not in sizes:
            continue  # gone meanwhile (another client moved it)
        if sizes[uid] > SIZE_LIMIT:
            log.warning("imap: message %s refused unread: %d bytes (too_large)", uid, sizes[uid])
            result.outcomes["refused"] += 1
            refused.append(uid)
    for uid, raw in _bodies(imap, small):
        outcome = _taken(engine, uid, raw, clock.now())
        result.outcomes[outcome.result] += 1
        (refused if outcome.result == "refused" else done).append(uid)
    return done, refused


def _taken(engine: Engine, uid: str, raw: bytes, now: float) -> Outcome:
    """``take_mail``'s outcome; a message it fails on is refused (kept in the refused
    folder, said once with the traceback) rather than read again at every poll."""
    try:
        return take_mail(engine, raw, now)
    except Exception:
        log.exception("imap: message %s could not be read; moved to the refused folder", uid)
        return Outcome("refused", reason="internal_error")


def _sizes(imap: imaplib.IMAP4, batch: list[str]) -> dict[str, int]:
    data = _ok(imap.uid("FETCH", ",".join(batch), "(RFC822.SIZE)"), "FETCH")
    sizes: dict[str, int] = {}
    for line in data:
        text = line[0] if isinstance(line, tuple) else line
        if not isinstance(text, bytes):
            continue
        uid, size = re.search(rb"UID (\d+)", text), re.search(rb"RFC822\.SIZE (\d+)", text)
        if uid and size:
            sizes[uid.group(1).decode()] = int(size.group(1))
    return sizes


def _bodies(imap: imaplib.IMAP4, uids: list[str]) -> Iterator[tuple[str, bytes]]:
    """(UID, message) for each of ``uids``; the UID may come before or after the literal."""
    if not uids:
        return
    data = _ok(imap.uid("FETCH", ",".join(uids), "(BODY.PEEK[])"), "FETCH")
    for index, part in enumerate(data):
        if not isinstance(part, tuple):
            continue
        found = re.search(rb"UID (\d+)", part[0])
        if found is None and index + 1 < len(data) and isinstance(data[index + 1], bytes):
            found = re.search(rb"UID (\d+)", data[index + 1])
        if found is not None:
            yield found.group(1).decode(), part[1]


class Folders:
    """The done and refused folders: named with the server's separator, created once."""

    def __init__(self, imap: imaplib.IMAP4, settings: Settings) -> None:
        self.imap = imap
        self.separator = _separator(imap)
        capabilities = _ok(imap.capability(), "CAPABILITY")[0]
        self.capabilities = set(capabilities.decode("ascii", "replace").upper().split())
        self.ready: set[str] = set()

    def name(self, setting: str) -> str:
        return setting.replace("/", self.separator) if self.separator else setting

    def move(self, uids: list[str], setting: str) -> None:
        if not uids:
            return
        target = _quoted(self.name(setting))
        self._ensure(target)
        uid_set = ",".join(uids)
        if "MOVE" in self.capabilities:
            _ok(self.imap.uid("MOVE", uid_set, target), "MOVE")
            return
        _ok(self.imap.uid("COPY", uid_set, target), "COPY")
        _ok(self.imap.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Deleted)"), "STORE")
        if "UIDPLUS" in self.capabilities:
            _ok(self.imap.uid("EXPUNGE", uid_set), "EXPUNGE")
        else:
            _ok(self.imap.expunge(), "EXPUNGE")

    def _ensure(self, target: str) -> None:
        if target in self.ready:
            return
        listed = _ok(self.imap.list('""', target), "LIST")
        if not any(isinstance(line, bytes) for line in listed):
            _ok(self.imap.create(target), "CREATE")
            self.imap.subscribe(target)
        self.ready.add(target)


def _separator(imap: imaplib.IMAP4) -> str:
    """The hierarchy separator (``.`` or ``/``), from ``LIST "" ""``; "" when flat."""
    for line in _ok(imap.list('""', '""'), "LIST"):
        if isinstance(line, bytes):
            found = re.match(rb'\(.*?\) "((?:\\.|[^"])*)"', line)
            if found:
                return found.group(1).decode().replace("\\", "")
    return ""


def _same_folder(one: str, other: str) -> bool:
    """INBOX is a name in any case (RFC 3501 §5.1); every other name is as written."""
    if one.upper() == "INBOX" or other.upper() == "INBOX":
        return one.upper() == other.upper()
    return one == other


def _quoted(name: str) -> str:
    if not name.isascii():
        raise ImapProblem(f"the folder name {name!r} is not plain ASCII")
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ok(response: tuple[str, list[Any]], command: str) -> list[Any]:
    status, data = response
    if status != "OK":
        raise ImapProblem(f"the server refused {command}: {_said(data)}")
    return data


def _said(data: list[Any]) -> str:
    first = data[0] if data else b""
    text = first.decode("utf-8", "replace") if isinstance(first, bytes) else str(first)
    return " ".join(text.split())[:200]
