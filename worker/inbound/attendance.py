"""Who answered each meeting's invitation: the read side of the calendar answers.

``worker.inbound.itip`` records what attendees reply (``records.attendance``); this module
reads it back for the status page, ``status --json``, the risk and the handover report
(through ``worker.checkins.standing``). Reads only: it writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from icalendar import Event

from config.plan import Plan
from connectors.calendar.itip import as_event
from worker.checkins.risk import MeetingAnswers
from worker.messages import NP_, pgettext_in
from worker.store import records

if TYPE_CHECKING:
    from worker.engine import Engine

NO_ANSWER = "needs-action"  # what a status shows for an invitee who has not answered

ANSWER = "calendar answer"  # the catalog context of the answer words
ANSWER_WORDS = {
    "accepted": NP_("calendar answer", "accepted"),
    "tentative": NP_("calendar answer", "tentative"),
    "declined": NP_("calendar answer", "declined"),
    "delegated": NP_("calendar answer", "delegated"),
    NO_ANSWER: NP_("calendar answer", "no answer"),
}


def answer_words(answer: str, lang: str) -> str:
    return pgettext_in(lang, ANSWER, ANSWER_WORDS.get(answer, ANSWER_WORDS[NO_ANSWER]))


def instant(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


@dataclass(frozen=True)
class Meeting:
    """The meeting a UID names: its plan, its calendar record and who was invited."""

    plan: Plan
    uid: str
    record: Mapping[str, Any]  # calendar_events row: item, ref, sequence, event
    invited: Mapping[str, Mapping[str, Any]]  # person id -> invitees row (state invited)

    @property
    def event(self) -> Event | None:
        text = self.record.get("event")
        return as_event(Event.from_ical(str(text))) if text else None

    def title(self) -> str:
        event = self.event
        return str(event["SUMMARY"]) if event is not None else str(self.record.get("ref", ""))

    def start(self) -> datetime | None:
        event = self.event
        if event is None or "DTSTART" not in event:
            return None
        return instant(event.decoded("DTSTART")).astimezone(self.plan.zone)

    def owner(self) -> str | None:
        item = str(self.record.get("item", ""))
        ref = item.removeprefix("milestone/")
        found = next((m for m in self.plan.milestones if m.id == ref), None)
        return found.owner if found is not None and item.startswith("milestone/") else None


def meeting_answers(engine: Engine, plan: Plan) -> list[MeetingAnswers]:
    """Per meeting with invitees, in start order: each invitee's answer to the revision they
    were last sent (``needs-action`` when none)."""
    store = engine.store
    kept = store.records_of(
        [
            records.calendar_events(plan.id),
            records.invitees(plan.id),
            records.attendance(plan.id),
        ]
    )
    invited: dict[str, dict[str, Mapping[str, Any]]] = {}
    for invitee in kept[records.invitees(plan.id)].values():
        if invitee.get("state") == "invited":
            invited.setdefault(str(invitee["uid"]), {})[str(invitee["person"])] = invitee
    latest = _latest_answers(kept[records.attendance(plan.id)].values())
    found = []
    for uid, people in invited.items():
        record = kept[records.calendar_events(plan.id)].get(uid)
        if record is None or record.get("removed"):
            continue
        meeting = Meeting(plan, uid, record, people)
        start = meeting.start()
        answers, comments = _current_answers(uid, people, latest)
        found.append(
            MeetingAnswers(
                uid=uid,
                ref=str(record.get("ref", "")),
                title=meeting.title(),
                start=start.timestamp() if start else None,
                ends=float(record["ends"]) if record.get("ends") is not None else None,
                answers=answers,
                comments=comments,
                owner=meeting.owner(),
            )
        )
    return sorted(found, key=lambda m: (m.start or 0.0, m.title))


def _current_answers(
    uid: str,
    people: Mapping[str, Mapping[str, Any]],
    latest: Mapping[tuple[str, str], Mapping[str, Any]],
) -> tuple[dict[str, str], dict[str, str]]:
    """Each invitee's answer to the revision they were last sent, and their comments."""
    answers: dict[str, str] = {}
    comments: dict[str, str] = {}
    for person_id, invitee in people.items():
        answer = latest.get((uid, person_id))
        if answer is None or int(answer["sequence"]) < int(invitee.get("sequence") or 0):
            answers[person_id] = NO_ANSWER
            continue
        answers[person_id] = str(answer["partstat"]).lower()
        if answer.get("comment"):
            comments[person_id] = str(answer["comment"])
    return answers, comments


def _latest_answers(rows: Any) -> dict[tuple[str, str], Mapping[str, Any]]:
    """Per (uid, person), the answer of the highest SEQUENCE, the newest DTSTAMP within it;
    a reply about one occurrence of a series is not the whole meeting's answer."""
    latest: dict[tuple[str, str], Mapping[str, Any]] = {}
    for row in rows:
        if row.get("recurrence"):
            continue
        key = (str(row["uid"]), str(row["person"]))
        order = (int(row["sequence"]), float(row.get("stamp") or 0))
        there = latest.get(key)
        if there is None or order > (int(there["sequence"]), float(there.get("stamp") or 0)):
            latest[key] = row
    return latest
