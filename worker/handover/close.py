"""The handover bundle at project close (docs/architecture.md §8).

``build_bundle`` makes the bundle: a BagIt bag (SHA-256 manifests) zipped by
``handover_bag``, holding the report (``handover.md`` and ``handover.html`` with
the timeline picture), the plan, the calendar, the runbook, the plan's
documents and CSV overviews of people, check-ins, milestones and deliveries.

The same state gives the same bytes: the bundle is "as of" one moment (the
close, once the plan is closed), every file is made from the store and the plan
at that moment, and the zip has fixed time stamps and order.

``close_plan`` closes a plan once, whoever calls it: the ``close`` step at the
end of the plan, ``pactkeeper close``, two workers at the same time. The first
caller records the moment; every caller then makes sure the bundle is kept in
the data folder (written once, by a link that fails when it exists) and
schedules its delivery to the handover recipients under keys made from that
moment, so the ledger lets each go out once. The bundle goes as an e-mail
attachment below ``handover_attach_limit``, otherwise (and on chat channels)
as a signed download link from the web app.

Privacy: ``people.csv`` holds name, side, role, e-mail, phone and channels and
nothing else; ``deliveries.csv`` names people by id only, with addresses and phone
numbers masked in its details, redacted or not; ``redact`` (``--redact`` or
``handover.redact`` in the plan) leaves e-mail addresses and phone numbers out of every
file. No token or link with a
token is written, and as a last guard every secret the process knows (the
settings' secrets and the environment variables the plan names) is removed from
the text files; a document holding one is left out and named in the report.
Documents are read only inside the plan's folder, never through a link out of it
(``read_document``); one that is missing when the bundle is made is a gap the
report names, not a failed bundle.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import io
import os
import re
import stat
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config.plan import Person, Plan
from config.settings import SecretMissing, Settings, read_env_secret
from worker import links, timeline
from worker.calendar.feeds import feed_calendar
from worker.delivery.draft import StepResult
from worker.handover import bag, report
from worker.handover.report import LeftOut
from worker.kickoff.runbook import render_runbook
from worker.logfilter import mask
from worker.plans.register import register
from worker.store import Item
from worker.store.records import CLOSED

if TYPE_CHECKING:
    from worker.engine import Engine

# The bundle's link is made in worker.links; callers holding this module reach it here.
download_link = links.download_link
FOLDER = "handover"  # under the data folder: handover/<plan>.zip
LINK_DAYS = 30  # a download link works this long after the message is written
REMOVED = "[removed]"
SECRET_MIN = 6  # shorter values would match ordinary words
TEXT_SUFFIXES = (".md", ".txt", ".csv", ".yaml", ".yml", ".html", ".htm", ".svg", ".ics", ".json")
URL = re.compile(r"\b(https?://[^/\s]+)/\S*")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ENV_NAME = re.compile(r"\benv:([A-Za-z_][A-Za-z0-9_]*)")


# -- what is in the bundle ----------------------------------------------------------------


def bundle_path(settings: Settings, plan_id: str) -> Path:
    return settings.data_dir / FOLDER / f"{plan_id}.zip"


def bundle_name(plan: Plan) -> str:
    return f"{plan.id}-handover.zip"


def build_bundle(engine: Engine, plan: Plan, now: float, redact: bool = False) -> bytes:
    """The bundle as it stands: as of the close once the plan is closed, else as of ``now``."""
    closed = engine.store.get_record(CLOSED, plan.id)
    as_of = float(closed["at"]) if closed else now
    return _bundle(engine, plan, as_of, closed is not None, redact)


def _bundle(engine: Engine, plan: Plan, as_of: float, closed: bool, redact: bool) -> bytes:
    redacted = redact or bool(plan.handover and plan.handover.redact)
    shown = _without_contact_details(plan) if redacted else plan
    secrets = known_secrets(engine.settings, plan)
    documents, left_out = _documents(plan, secrets)
    facts = report.gather(engine, shown, as_of, closed, left_out)
    words = report.build(facts, redacted)
    svg = report.picture(facts)
    moment = datetime.fromtimestamp(as_of, UTC)
    payload: dict[str, bytes] = {
        "handover.md": report.render_markdown(words).encode(),
        "handover.html": report.render_html(words, svg).encode(),
        "timeline.svg": svg.encode(),
        "plan.yaml": _plan_text(plan, redacted).encode(),
        "calendar.ics": _calendar(engine, shown, as_of),
        "people.csv": people_csv(shown),
        "checkins.csv": checkins_csv(facts),
        "milestones.csv": milestones_csv(facts),
        "deliveries.csv": deliveries_csv(shown, facts.deliveries),
        "runbook.md": _runbook(shown, "md"),
        "runbook.html": _runbook(shown, "html"),
        **{f"documents/{name}": data for name, data in documents.items()},
    }
    payload = {name: scrub(name, data, secrets) for name, data in payload.items()}
    info = {
        "Bag-Software-Agent": f"pactkeeper {_version()}",
        "Bagging-Date": moment.astimezone(plan.zone).date().isoformat(),
        "External-Identifier": plan.id,
        "External-Description": _one_line(plan.title),
        "Source-Organization": _one_line(plan.partner.name),
    }
    files = bag.make_bag(payload, info)
    return bag.zip_folder(files, f"{plan.id}-handover", moment.date())


def _version() -> str:
    try:
        return version("pactkeeper")
    except PackageNotFoundError:
        return "0"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _without_contact_details(plan: Plan) -> Plan:
    """The plan as the redacted bundle shows it: nobody's e-mail address or phone number."""
    people = [person.model_copy(update={"email": None, "phone": None}) for person in plan.people]
    return plan.model_copy(update={"people": people})


def _plan_text(plan: Plan, redacted: bool) -> str:
    text = plan.text
    if not redacted:
        return text
    for person in plan.people:
        for value in (person.email, person.phone):
            if value:
                text = text.replace(value, REMOVED)
    return text


def _calendar(engine: Engine, plan: Plan, as_of: float) -> bytes:
    # Stamped with the moment of the bundle, with the SEQUENCEs people's calendars have.
    return feed_calendar(engine, plan, None, as_of)


def _runbook(plan: Plan, fmt: str) -> bytes:
    return render_runbook(plan, fmt).encode()


def _documents(plan: Plan, secrets: Iterable[str]) -> tuple[dict[str, bytes], list[LeftOut]]:
    """The plan's documents by name, and those that could not go in, with the reason."""
    if plan.handover is None:
        return {}, []
    folder = plan.path.parent if plan.path else Path.cwd()
    found: dict[str, bytes] = {}
    left_out: list[LeftOut] = []
    for name in plan.handover.documents:
        try:
            data = read_document(folder, name)
        except Outside:
            left_out.append(LeftOut(name, "outside"))
            continue
        except OSError:
            # Deleted or renamed since the plan was written: a gap, not a failed bundle.
            left_out.append(LeftOut(name, "missing"))
            continue
        if any(secret.encode() in data for secret in secrets):
            left_out.append(LeftOut(name, "secret"))
            continue
        found[name] = data
    return found, left_out


class Outside(Exception):
    """A document that is not a regular file inside the plan's folder."""


def read_document(folder: Path, name: str) -> bytes:
    """The bytes of the document ``name`` (relative to ``folder``), read only inside it.

    The bundle goes to the partner, so a link in the plan's folder must not pull in
    any file the server can read (``docs/x.md -> /etc/shadow``, or a linked folder).
    The name is resolved first and must stay inside the folder; then every part of
    the resolved path is opened without following links, so a link put in its
    place after the check is refused too. Links that stay inside the folder are fine.
    Raises ``Outside`` for anything else, ``OSError`` when the file is not there.
    """
    root = folder.resolve()
    try:
        target = (root / name).resolve(strict=True)
    except RuntimeError:  # a loop of links (Python 3.11; later versions raise OSError)
        raise Outside(name) from None
    if not target.is_relative_to(root) or target == root:
        raise Outside(name)
    return _read_inside(root, target.relative_to(root).parts)


def _read_inside(root: Path, parts: tuple[str, ...]) -> bytes:
    directory = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            try:
                inner = os.open(part, NO_LINK | os.O_DIRECTORY, dir_fd=directory)
            except OSError as error:
                raise _refusal(error) from None
            os.close(directory)
            directory = inner
        try:
            # O_NONBLOCK: a FIFO put there must not hang the bundle; it is refused below.
            handle = os.open(parts[-1], NO_LINK | os.O_NONBLOCK, dir_fd=directory)
        except OSError as error:
            raise _refusal(error) from None
    finally:
        os.close(directory)
    with os.fdopen(handle, "rb") as document:
        if not stat.S_ISREG(os.fstat(document.fileno()).st_mode):
            raise Outside(parts[-1])
        return document.read()


NO_LINK = os.O_RDONLY | os.O_NOFOLLOW


def _refusal(error: OSError) -> Exception:
    """ELOOP/ENOTDIR: a link (or a file) was put where the checked folder was."""
    if error.errno in (errno.ELOOP, errno.ENOTDIR):
        return Outside(error.filename)
    return error


# -- the CSV files ---------------------------------------------------------------------------


def _csv(header: list[str], rows: Iterable[Iterable[Any]]) -> bytes:
    """RFC 4180 with a BOM, so a spreadsheet opens accented names right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue().encode("utf-8-sig")


def _cell(value: Any) -> Any:
    """A value a spreadsheet shows as text: never a formula from a note or a name.

    Text starting with ``= + - @``, a tab or a carriage return would be run as a
    formula (``=HYPERLINK(...)`` in a check-in note); a leading ``'`` makes it text,
    as OWASP's "CSV Injection" page recommends. Numbers the code writes stay numbers.
    """
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def _local(moment: float | None, plan: Plan) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, plan.zone).isoformat(timespec="minutes")


def people_csv(plan: Plan) -> bytes:
    return _csv(
        ["name", "side", "role", "email", "phone", "channels"],
        ([p.name, p.side, p.role, p.email, p.phone, " ".join(p.channels)] for p in plan.people),
    )


def checkins_csv(facts: report.Facts) -> bytes:
    plan = facts.plan
    rows = sorted(
        (w for windows in facts.standing.windows.values() for w in windows),
        key=lambda w: (w.day, [p.id for p in plan.people].index(w.person)),
    )
    return _csv(
        ["window", "person", "name", "state", "status", "answered_at", "note"],
        (
            [
                w.day,
                w.person,
                plan.person(w.person).name,
                w.state,
                w.status,
                _local(w.answered_at, plan),
                w.note,
            ]
            for w in rows
        ),
    )


def milestones_csv(facts: report.Facts) -> bytes:
    return _csv(
        ["id", "title", "kind", "planned", "owner", "state", "done_at", "done_by", "days_late"],
        (
            [
                o.milestone.id,
                o.milestone.title,
                "meeting" if o.milestone.is_meeting else "deadline",
                o.anchor.isoformat(timespec="minutes")
                if o.milestone.is_meeting
                else o.anchor.date().isoformat(),
                o.milestone.owner,
                o.state,
                o.done_at.isoformat(timespec="minutes") if o.done_at else None,
                o.done_by,
                o.days_late,
            ]
            for o in report.milestone_outcomes(facts)
        ),
    )


def deliveries_csv(plan: Plan, deliveries: Iterable[Item]) -> bytes:
    """Ids and outcomes, whether or not the bundle is redacted: who by person id, never by
    address or phone number, and the detail (a server's answer may quote either) masked."""
    return _csv(
        [
            "key",
            "kind",
            "about",
            "person",
            "channel",
            "due",
            "sent_at",
            "state",
            "attempts",
            "detail",
        ],
        (
            [
                item.key,
                str(item.data.get("log_kind") or item.kind),
                item.ref,
                item.recipient,
                item.channel_used or item.channel,
                _local(item.due, plan),
                _local(item.sent_at, plan),
                item.state,
                item.attempts,
                # Error texts may quote an address with a token in its path.
                mask(URL.sub(r"\1/…", item.detail)),
            ]
            for item in deliveries
        ),
    )


# -- secrets ---------------------------------------------------------------------------------


def known_secrets(settings: Settings, plan: Plan) -> list[str]:
    """Every secret value this process knows: the settings' and the plan's env:NAME ones."""
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if hasattr(value, "get_secret_value"):
            found.append(str(value.get_secret_value()))
    found.append(settings.signing_key.decode())
    for name in ENV_NAME.findall(plan.text):
        found.append(_env_secret(name))
    # Longest first, so a secret that contains another is removed whole.
    return sorted({s for s in found if len(s) >= SECRET_MIN}, key=len, reverse=True)


def _env_secret(name: str) -> str:
    """``env:NAME`` as the connectors read it: NAME, or the file NAME_FILE names."""
    try:
        return read_env_secret(name).get_secret_value()
    except SecretMissing:
        return ""


def scrub(name: str, data: bytes, secrets: Iterable[str]) -> bytes:
    """A text file without any of ``secrets``; other files are checked when read."""
    if not name.lower().endswith(TEXT_SUFFIXES):
        return data
    text = data.decode("utf-8", "surrogateescape")
    for secret in secrets:
        text = text.replace(secret, REMOVED)
    return text.encode("utf-8", "surrogateescape")


# -- closing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Closing:
    plan: Plan
    at: float
    first: bool
    path: Path
    size: int
    recipients: list[Person]
    scheduled: list[str]

    def summary(self) -> str:
        when = datetime.fromtimestamp(self.at, self.plan.zone).strftime("%Y-%m-%d %H:%M %Z")
        names = ", ".join(f"{p.name} ({p.id})" for p in self.recipients)
        if self.first:
            head = f"{self.plan.id}: closed at {when}"
        else:
            head = f"{self.plan.id}: already closed at {when}"
        lines = [head, f"handover bundle: {self.path} ({self.size:,} bytes)"]
        if self.scheduled:
            lines.append(f"goes to {names} with the next sweep of the workers (pactkeeper run)")
        else:
            lines.append(f"its delivery to {names} was already scheduled; nothing is sent twice")
        return "\n".join(lines)


def close_plan(engine: Engine, plan: Plan, now: float) -> Closing:
    """Close ``plan`` (once), keep its bundle, schedule its delivery (once)."""
    first = engine.store.put_record(CLOSED, plan.id, {"at": now}, only_if_absent=True)
    record = engine.store.get_record(CLOSED, plan.id)
    at = float(record["at"]) if record else now
    path = keep_bundle(engine, plan, at)
    recipients = plan.handover_recipients()
    scheduled = engine.store.schedule([_delivery(plan, person, at) for person in recipients])
    if first:
        # What the plan still had scheduled after the close is cancelled (plans.register).
        register(engine, plan, now)
    return Closing(plan, at, first, path, path.stat().st_size, recipients, scheduled)


def keep_bundle(engine: Engine, plan: Plan, at: float) -> Path:
    """The bundle of the closed plan in the data folder, written by the first to get there."""
    path = bundle_path(engine.settings, plan.id)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _bundle(engine, plan, at, True, False)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    draft.write_bytes(data)
    try:
        # The first link wins; a worker that comes second keeps the first one's bundle.
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)
    return path


def _delivery(plan: Plan, person: Person, at: float) -> Item:
    key_text = "|".join((plan.id, "handover", person.id, repr(at)))
    return Item(
        key=hashlib.sha256(key_text.encode()).hexdigest()[:24],
        plan_id=plan.id,
        kind="handover",
        due=timeline.reaction_time(plan, person, at, defer_pauses=False),
        ref="bundle",
        recipient=person.id,
        channel=person.channels[0],
        origin="engine",
        data={"closed": at},
    )


def plan_closed(engine: Engine, item: Item, now: float) -> StepResult:
    """The ``close`` step at the end of the plan."""

    closing = close_plan(engine, engine.plan(item.plan_id), now)
    return StepResult(closing.summary().replace("\n", "; "))


# -- the message with the bundle ---------------------------------------------------------------
