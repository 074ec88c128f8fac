"""The rules that relate one part of a plan to another (docs/architecture.md §2).

They read the plan as the YAML gave it, not the validated models, so that a
plan with a malformed e-mail address and a dangling reference reports both at
once. A value that is itself malformed is skipped here: the models report it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from config import notation
from config.plan import CHANNELS, LADDER_NAMES, Person, Plan, document_in_folder
from config.rhythm import checkin_days, open_days, window_count

Loc = tuple[str | int, ...]
Issue = tuple[Loc, str]
People = dict[str, dict[str, Any]] | None

PHONE_CHANNELS = ("sms", "whatsapp")
# The channels a person must have agreed to be reached on (AVG/GDPR): ``consent: DATE``.
CONSENT_CHANNELS = PHONE_CHANNELS
# What one plan may schedule. A 7 KB plan (101 people checking in daily for ten
# years) made 730,000 items: 48 s and 590 MB to sync. The examples make about
# 150.
MAX_OCCURRENCES = 100_000
SIDES = ("partner", "team")
RESERVED_MILESTONE_IDS = ("handover",)


def check(raw: dict[str, Any], base: Path | None = None) -> list[Issue]:
    """Every cross-reference problem of a plan, in file order."""
    people = _people(raw)
    issues: list[Issue] = []
    for rule in (_dates, _unique_ids, _roles, _references, _channels, _ladder):
        issues.extend(rule(raw, people))
    issues.extend(_documents(raw, base))
    return issues


def check_plan(plan: Plan) -> list[Issue]:
    """The rules that need the whole plan, valid: windows that can never open, and a
    plan that schedules more than one plan should."""
    return [*_windows_open(plan), *_size(plan)]


# -- reading the raw plan defensively ---------------------------------------


def _section(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


def _entries(raw: dict[str, Any], *path: str) -> Iterator[tuple[Loc, dict[str, Any]]]:
    """``(loc, item)`` for each mapping in the list at ``path``."""
    node: Any = raw
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, list):
        for index, item in enumerate(node):
            if isinstance(item, dict):
                yield (*path, index), item


def _people(raw: dict[str, Any]) -> People:
    """The people by id; None when ``people`` is malformed, so no reference is checked.

    Without a list of people, or with a person whose id is missing, references
    would dangle that are fine: the malformed people are reported instead.
    """
    entries = raw.get("people")
    if not isinstance(entries, list):
        return None
    found: dict[str, dict[str, Any]] = {}
    for person in entries:
        if not (isinstance(person, dict) and isinstance(person.get("id"), str)):
            return None
        found.setdefault(_id(person["id"]), person)
    return found


def _id(value: str) -> str:
    """An id as the plan models read it: spaces around it are not part of it.

    Compared as written, ``"ida "`` and ``ida`` passed as two people, and the
    models then held two people with one id.
    """
    return value.strip()


def _parsed(parser: Callable[[object], Any], value: object) -> Any:
    try:
        return parser(value)
    except (ValueError, TypeError):
        return None


def _day(value: object) -> date | None:
    return _parsed(notation.parse_date, value)  # type: ignore[no-any-return]


def _moment(value: object) -> datetime | None:
    return _parsed(notation.parse_datetime, value)  # type: ignore[no-any-return]


# -- the rules -----------------------------------------------------------------


def _dates(raw: dict[str, Any], people: People) -> Iterator[Issue]:
    start, end = _day(raw.get("start")), _day(raw.get("end"))
    if start and end and end < start:
        yield ("end",), f"the project ends ({end}) before it starts ({start})"
    if start and end and (end - start).days > notation.MAX_DURATION_DAYS:
        yield ("end",), f"the project runs from {start} to {end}: a plan covers ten years at most"
    if not (start and end and end >= start):
        return
    span = f"the project runs {start} to {end}"
    for loc, milestone in _entries(raw, "milestones"):
        for key in ("at", "due"):
            if key not in milestone:
                continue
            when = _moment(milestone[key]) if key == "at" else _day(milestone[key])
            day = when.date() if isinstance(when, datetime) else when
            if day is not None and not start <= day <= end:
                yield (*loc, key), f"{day} is outside the project: {span}"
    for loc, pause in _entries(raw, "checkins", "pauses"):
        first, last = _day(pause.get("from")), _day(pause.get("to"))
        if first and last and (last < start or first > end):
            yield loc, f"the pause {first} to {last} is outside the project: {span}"
    handover = _section(raw, "handover")
    when = _moment(handover.get("at"))
    if when is not None and not start <= when.date() <= end:
        yield ("handover", "at"), f"{when.date()} is outside the project: {span}"


def _unique_ids(raw: dict[str, Any], people: People) -> Iterator[Issue]:
    for kind, key in (("person", "people"), ("milestone", "milestones")):
        seen: set[str] = set()
        for loc, item in _entries(raw, key):
            written = item.get("id")
            if not isinstance(written, str):
                continue
            item_id = _id(written)
            if item_id in seen:
                padded = f" (written '{written}')" if written != item_id else ""
                yield (*loc, "id"), f"the {kind} id '{item_id}' is used twice{padded}"
            seen.add(item_id)
    for loc, item in _entries(raw, "milestones"):
        written = item.get("id")
        if isinstance(written, str) and _id(written) in RESERVED_MILESTONE_IDS:
            yield (
                (*loc, "id"),
                (
                    f"'{_id(written)}' is reserved; pick another milestone id "
                    "(the handover meeting is configured under 'handover')"
                ),
            )


def _reference(people: People, loc: Loc, value: object, side: str | None = None) -> Iterator[Issue]:
    if not isinstance(value, str) or people is None:
        return
    value = _id(value)
    if value not in people:
        yield loc, f"no person with id '{value}'{_suggestion(value, people)}"
    elif side and people[value].get("side") in SIDES and people[value].get("side") != side:
        # A side that is itself misspelt is reported on the person, not here again.
        yield loc, f"'{value}' must be on side {side}, not {people[value].get('side')}"


def _suggestion(value: str, choices: dict[str, Any] | tuple[str, ...]) -> str:
    from difflib import get_close_matches

    close = get_close_matches(value, list(choices), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _roles(raw: dict[str, Any], people: People) -> Iterator[Issue]:
    partner, team = _section(raw, "partner"), _section(raw, "team")
    yield from _reference(people, ("partner", "contact"), partner.get("contact"), "partner")
    yield from _reference(people, ("partner", "deputy"), partner.get("deputy"), "partner")
    yield from _reference(people, ("team", "lead"), team.get("lead"), "team")
    continuity = _section(raw, "continuity")
    yield from _reference(people, ("continuity", "successor"), continuity.get("successor"))


def _id_list(raw: dict[str, Any], loc: Loc) -> Iterator[tuple[Loc, object]]:
    node: Any = raw
    for key in loc:
        if isinstance(node, dict) and isinstance(key, str):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return
    if isinstance(node, list):
        for index, value in enumerate(node):
            yield (*loc, index), value


def _references(raw: dict[str, Any], people: People) -> Iterator[Issue]:
    for loc, milestone in _entries(raw, "milestones"):
        yield from _reference(people, (*loc, "owner"), milestone.get("owner"))
        for key in ("attendees", "notify"):
            for item_loc, value in _id_list(raw, (*loc, key)):
                yield from _reference(people, item_loc, value)
    for item_loc, value in _id_list(raw, ("handover", "recipients")):
        yield from _reference(people, item_loc, value)
    for item_loc, value in _id_list(raw, ("checkins", "who")):
        yield from _reference(people, item_loc, value)


def _channels(raw: dict[str, Any], people: People) -> Iterator[Issue]:
    configured = _section(_section(raw, "communication"), "channels")
    for loc, person in _entries(raw, "people"):
        channels = person.get("channels", ["email"])
        if not isinstance(channels, list):
            continue
        for index, channel in enumerate(channels):
            if not isinstance(channel, str) or channel not in CHANNELS:
                continue
            where = (*loc, "channels", index)
            if channel not in configured:
                yield (
                    where,
                    (
                        f"'{channel}' is not configured under communication.channels; "
                        f"add '{channel}:' there or remove it here"
                    ),
                )
            if channel == "email" and not person.get("email"):
                yield (*loc, "email"), "the e-mail channel needs an e-mail address"
            if channel in PHONE_CHANNELS and not person.get("phone"):
                yield (*loc, "phone"), f"the {channel} channel needs a phone number (E.164)"
        if isinstance(channels, list) and len(set(map(str, channels))) != len(channels):
            yield (*loc, "channels"), "a channel is listed twice"


def _ladder(raw: dict[str, Any], people: People) -> Iterator[Issue]:
    previous = 0
    unnamed = _unnamed_rungs(raw)
    for loc, step in _entries(raw, "checkins", "escalate"):
        after = step.get("after")
        if isinstance(after, int) and not isinstance(after, bool):
            if after <= previous:
                yield (
                    (*loc, "after"),
                    (f"'after' must rise from step to step: {after} follows {previous}"),
                )
            previous = after
        for item_loc, written in _id_list(raw, (*loc, "notify")):
            value = _id(written) if isinstance(written, str) else written
            if isinstance(value, str) and value in unnamed:
                yield item_loc, unnamed[value]
            elif (
                isinstance(value, str)
                and people is not None
                and value not in LADDER_NAMES
                and value not in people
            ):
                choices = (*LADDER_NAMES, *people)
                yield (
                    item_loc,
                    (
                        f"'{value}' is neither self, lead, contact, deputy, successor "
                        f"nor a person id{_suggestion(value, choices)}"
                    ),
                )
    checkins = _section(raw, "checkins")
    if "on" in checkins and str(checkins.get("every", "weekly")).lower() not in (
        "weekly",
        "biweekly",
        "monthly",
    ):
        yield ("checkins", "on"), "'on' goes with every: weekly, biweekly or monthly"


def _unnamed_rungs(raw: dict[str, Any]) -> dict[str, str]:
    """Ladder names that would warn no one: ``deputy`` or ``successor`` the plan leaves out.

    A dropout warning sent to nobody is the silent failure the ladder exists to
    prevent, so the plan must name the person or drop the rung.
    """
    unnamed = {}
    if not _section(raw, "partner").get("deputy"):
        unnamed["deputy"] = (
            "'deputy' names no one: set partner.deputy to a person on side partner, "
            "or remove 'deputy' from this step"
        )
    if not _section(raw, "continuity").get("successor"):
        unnamed["successor"] = (
            "'successor' names no one: set continuity.successor to a person id, "
            "or remove 'successor' from this step"
        )
    return unnamed


def _documents(raw: dict[str, Any], base: Path | None) -> Iterator[Issue]:
    """Documents are files inside the plan's folder; ``base`` None checks only the names.

    The files themselves are checked when a plan file is validated. A registered
    plan is read again without ``base``: a document missing later is a gap in the
    bundle, not a reason to stop the plan's deliveries.
    """
    for loc, document in _id_list(raw, ("handover", "documents")):
        if not isinstance(document, str) or not document.strip():
            continue
        relative = PurePosixPath(document.strip())
        if relative.is_absolute() or ".." in relative.parts:
            yield loc, "documents are paths inside the plan's folder, like docs/beheer.md"
        elif base is not None:
            yield from _document_file(loc, base, document.strip())


def _document_file(loc: Loc, base: Path, document: str) -> Iterator[Issue]:
    path = base / document
    if document_in_folder(base, document) is None:
        yield (
            loc,
            f"the document '{document}' leads outside the plan's folder through a "
            "symbolic link; documents are files inside it",
        )
    elif not path.exists():
        yield loc, f"the document '{document}' does not exist next to the plan"
    elif not path.is_file():
        yield loc, f"the document '{document}' is not a regular file"


# -- rules on the valid plan ------------------------------------------------------------


def _windows_open(plan: Plan) -> Iterator[Issue]:
    """Check-ins that open no window for someone leave the dropout warnings silently off."""
    if plan.checkins is None:
        return
    if not checkin_days(plan):
        yield (
            ("checkins", "every"),
            f"the rhythm gives no check-in day from {plan.start} to {plan.end}: "
            "no window would ever open",
        )
        return
    days = open_days(plan)
    if not days:
        yield ("checkins", "pauses"), "the pauses cover every check-in day: no window would open"
        return
    index = {person.id: number for number, person in enumerate(plan.people)}
    for person in plan.checkin_people():
        if window_count(days, person) == 0:
            yield (
                ("people", index[person.id], "away"),
                f"{person.id} is away on every check-in day, so no window would open for "
                "them; leave them out of checkins.who or shorten the time away",
            )


def without_consent(person: Person) -> list[str]:
    """The person's channels that need their consent, when none is recorded."""
    if person.consent is not None:
        return []
    return [channel for channel in person.channels if channel in CONSENT_CHANNELS]


def scheduled(plan: Plan) -> int:
    """How many occurrences the plan schedules, at most, counted without making them:
    kickoffs, milestones and their reminders, the handover, check-in windows (each
    opens and closes), deadline checks and the close."""
    offsets = plan.communication.remind_before
    count = len(plan.people) + 1
    for milestone in plan.milestones:
        count += 2 + len(plan.reminded(milestone)) * len(milestone.remind or offsets)
    if plan.handover is not None:
        count += 1 + len(plan.handover_recipients()) * len(offsets)
    days = open_days(plan)
    return count + 2 * sum(window_count(days, person) for person in plan.checkin_people())


def _size(plan: Plan) -> Iterator[Issue]:
    count = scheduled(plan)
    if count > MAX_OCCURRENCES:
        where: Loc = ("checkins",) if plan.checkins is not None else ("people",)
        yield (
            where,
            f"the plan schedules {count:,} reminders, check-in windows and other steps; "
            f"one plan may schedule at most {MAX_OCCURRENCES:,}: check in less often, "
            "with fewer people, or split the project",
        )
