"""The one calendar builder: a plan as iCalendar events (docs/architecture.md §5).

Pure: plan and time in, events out (the envelope is ``connectors.calendar.ics``).

The feed, the e-mailed invites and CalDAV all start here. Each event has a
builder of its own (``meeting_event``, ``deadline_event``, ``handover_event``,
``checkin_series``) so later code can diff, send or PUT events one by one;
``events_for`` lists the events of a plan or of one person and ``calendar_of``
wraps events into a VCALENDAR with the VTIMEZONEs their TZIDs need.

Decisions (where the design record is silent):

- Texts are in the plan's language, also in one person's calendar, so an event
  reads the same for everyone it concerns and has one significant hash.
- Deadlines carry the people reminded of them as attendees (meetings their
  attendees, the check-in series its person), so an invite has someone to go
  to; a deadline is TRANSPARENT so it does not block a whole day.
- People without an e-mail address are left out of ATTENDEE (it must be a
  ``mailto:``); the event still appears in their own calendar.
- A published calendar (METHOD:PUBLISH: feeds, the kickoff's attachment, the
  bundle) has no ATTENDEE, as RFC 5546 §3.2.1 requires; ORGANIZER stays. The
  invitations (REQUEST, CANCEL) and the CalDAV bodies keep the attendees.
- A display name (CN) has no ``"``: it would have to be written as RFC 6868's
  ``^'``, which libical (Evolution), node-ical and ics-py show as it stands, so
  each ``"`` becomes a typographic quote.
- VALARMs follow the timeline: ``remind`` or ``remind_before`` counted back
  from the meeting's start or from ``deadline_time`` on the due date; one that
  would ring before the plan's start is left out, as the timeline leaves it out.
  A deadline is a DATE, and a relative alarm on a DATE counts from midnight in
  the viewer's own zone, while the deadline's reminder is due at
  ``deadline_time`` in the plan's zone: so a deadline's alarms are absolute
  (``TRIGGER;VALUE=DATE-TIME`` in UTC), the instants the timeline gives, for
  everyone, wherever they are.
- A wall time that a clock change skips (the spring gap) or repeats (the autumn
  hour) is read with the offset before the change by RFC 5545 and the timeline,
  and otherwise by ical.js and libical. So a meeting's or the handover's DTSTART
  or DTEND at such a time is written in UTC, the other keeps its TZID; and a
  check-in series keeps its RRULE only up to the first day its rule meets such a
  time, with every later window an RDATE in UTC (``_add_cut_series`` says why
  not EXDATE plus RDATE). Calendars without such times are as before.
- VALARMs do not count as a significant change: clients drop or replace the
  organiser's alarms, so a changed reminder is no reason for a new SEQUENCE.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from icalendar import Alarm, Event, vRecur

from config.notation import Duration
from config.plan import Milestone, Person, Plan
from config.rhythm import series
from config.settings import Settings
from connectors.calendar.ics import address, calendar_of, event_uid
from worker.calendar.messages import LABELS
from worker.timeline import (
    checkin_days,
    checkin_rule,
    excused_days,
    local_moment,
    milestone_anchor,
)

CHECKIN_LENGTH = timedelta(minutes=15)


@dataclass(frozen=True)
class Stamping:
    """How the events of one sending are stamped: deployment settings, DTSTAMP, SEQUENCEs."""

    settings: Settings
    stamp: datetime
    sequences: Mapping[str, int] = field(default_factory=dict)
    # Whose calendar this is: reminders count back in their zone, as the timeline's do.
    viewer: ZoneInfo | None = None

    @classmethod
    def of(
        cls,
        settings: Settings | None = None,
        stamp: datetime | None = None,
        sequences: Mapping[str, int] | None = None,
    ) -> Stamping:
        moment = stamp if stamp is not None else datetime.now(UTC)
        if moment.tzinfo is None:
            raise ValueError("the stamp must be zone-aware (DTSTAMP is written in UTC)")
        utc = moment.astimezone(UTC).replace(microsecond=0)
        return cls(settings or Settings(), utc, sequences or {})

    def uid(self, plan: Plan, item: str) -> str:
        return event_uid(plan.id, item, self.settings.uid_domain)


# -- pieces shared by every event ---------------------------------------------------


def _label(plan: Plan, key: str, **values: str) -> str:
    return LABELS[plan.language][key].format(**values)


def _new_event(plan: Plan, item: str, summary: str, stamping: Stamping) -> Event:
    event = Event()
    uid = stamping.uid(plan, item)
    event.add("uid", uid)
    event.add("dtstamp", stamping.stamp)
    event.add("sequence", stamping.sequences.get(uid, 0))
    event.add("summary", summary)
    event.add("status", "CONFIRMED")
    return event


def _add_people(event: Event, plan: Plan, people: Iterable[Person], stamping: Stamping) -> None:
    event.add("organizer", address(stamping.settings.organizer_email, plan.team.name))
    for person in people:
        if person.email:
            event.add("attendee", address(person.email, person.name, "REQ-PARTICIPANT"))


def _add_details(event: Event, location: str | None, lines: Iterable[str | None]) -> None:
    if location:
        event.add("location", location)
    text = "\n".join(line for line in lines if line)
    if text:
        event.add("description", text)


def _add_alarm(event: Event, trigger: timedelta | datetime, text: str) -> None:
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", text)
    if isinstance(trigger, datetime):
        # RFC 5545 §3.8.6.3: a TRIGGER is a duration unless it says it is a DATE-TIME.
        alarm.add("trigger", trigger.astimezone(UTC), parameters={"VALUE": "DATE-TIME"})
    else:
        alarm.add("trigger", trigger)
    event.add_component(alarm)


def _offsets(plan: Plan, milestone: Milestone | None, anchor: datetime) -> list[Duration]:
    """The reminder offsets of a milestone (or the handover) that ring inside the plan.

    As in the timeline, a reminder due before the plan's start is left out.
    """
    offsets = (milestone.remind if milestone else None) or plan.communication.remind_before
    opening = local_moment(plan.start, time(0), plan.zone)
    return [offset for offset in offsets if offset.before(anchor) >= opening]


def _before(offset: Duration) -> timedelta:
    """A reminder offset as a negative TRIGGER; days stay nominal days (RFC 5545 §3.3.6)."""
    return -timedelta(days=offset.days, seconds=offset.seconds)


def _line(plan: Plan, key: str, value: str | None) -> str | None:
    return f"{_label(plan, key)}: {value}" if value else None


def _owner_line(plan: Plan, milestone: Milestone) -> str | None:
    return _line(plan, "owner", plan.person(milestone.owner).name if milestone.owner else None)


def in_clock_change(moment: datetime) -> bool:
    """Whether ``moment``'s wall time is missing (spring gap) or repeated in its zone."""
    first, second = moment.replace(fold=0), moment.replace(fold=1)
    return first.utcoffset() != second.utcoffset()


def unambiguous(moment: datetime) -> datetime:
    """``moment`` itself, or its UTC instant when its wall time is in a clock change.

    The instant is the one ``moment`` means: a wall time from the plan has fold=0
    (the offset before the change, as in the timeline); an end counted from a start
    in UTC knows which of two 02:30s it is.
    """
    return moment.astimezone(UTC) if in_clock_change(moment) else moment


# -- one event each ---------------------------------------------------------------


def meeting_event(plan: Plan, milestone: Milestone, stamping: Stamping | None = None) -> Event:
    """A meeting milestone: DTSTART/DTEND with the plan's TZID (in UTC in a clock change),
    attendees, reminders."""
    if milestone.at is None:
        raise ValueError(f"milestone '{milestone.id}' is a deadline, not a meeting")
    stamping = stamping or Stamping.of()
    event = _new_event(plan, f"milestone/{milestone.id}", milestone.title, stamping)
    start = milestone.at.replace(tzinfo=plan.zone)
    event.add("dtstart", unambiguous(start))
    event.add("dtend", unambiguous(milestone.length.after(start)))
    lines = (milestone.description, _owner_line(plan, milestone))
    _add_details(event, milestone.location, lines)
    _add_people(event, plan, plan.attendees(milestone), stamping)
    reminder = _label(plan, "reminder", title=milestone.title)
    for offset in _offsets(plan, milestone, start):
        _add_alarm(event, _before(offset), reminder)
    return event


def deadline_event(plan: Plan, milestone: Milestone, stamping: Stamping | None = None) -> Event:
    """A deadline: all-day on its due date (exclusive DTEND), reminders from ``deadline_time``."""
    if milestone.due is None:
        raise ValueError(f"milestone '{milestone.id}' is a meeting, not a deadline")
    stamping = stamping or Stamping.of()
    summary = _label(plan, "deadline", title=milestone.title)
    event = _new_event(plan, f"milestone/{milestone.id}", summary, stamping)
    event.add("dtstart", milestone.due)
    event.add("dtend", milestone.due + timedelta(days=1))
    event.add("transp", "TRANSPARENT")
    lines = (
        milestone.description,
        _line(plan, "deliverable", milestone.deliverable),
        _line(plan, "acceptance", milestone.acceptance),
        _owner_line(plan, milestone),
    )
    _add_details(event, milestone.location, lines)
    _add_people(event, plan, plan.reminded(milestone), stamping)
    _add_deadline_alarms(event, plan, milestone, stamping.viewer or plan.zone)
    return event


def _add_deadline_alarms(event: Event, plan: Plan, milestone: Milestone, zone: ZoneInfo) -> None:
    """Alarms at the instants the timeline reminds of the deadline, in UTC.

    A relative TRIGGER on an all-day event counts from midnight in whatever zone
    the calendar app is in (-P6DT15H rang at 09:00 in New York and Singapore
    alike), while the reminder is due at ``deadline_time`` in the plan's zone, and
    a day before it is a day on the wall clock of the person reminded (``zone``).
    """
    reminder = _label(plan, "reminder", title=milestone.title)
    anchor = milestone_anchor(plan, milestone).astimezone(zone)
    opening = local_moment(plan.start, time(0), plan.zone)
    offsets = milestone.remind or plan.communication.remind_before
    for offset in offsets:
        due = offset.before_utc(anchor)
        if due >= opening:  # as in the timeline: none before the plan's start
            _add_alarm(event, due, reminder)


def handover_event(plan: Plan, stamping: Stamping | None = None) -> Event:
    """The handover meeting, with the handover recipients as attendees."""
    handover = plan.handover
    if handover is None:
        raise ValueError(f"plan '{plan.id}' has no handover")
    stamping = stamping or Stamping.of()
    summary = _label(plan, "handover", title=plan.title)
    event = _new_event(plan, "handover", summary, stamping)
    start = handover.at.replace(tzinfo=plan.zone)
    event.add("dtstart", unambiguous(start))
    event.add("dtend", unambiguous(handover.duration.after(start)))
    documents = ", ".join(handover.documents)
    _add_details(event, handover.location, (_line(plan, "documents", documents),))
    _add_people(event, plan, plan.handover_recipients(), stamping)
    reminder = _label(plan, "reminder", title=summary)
    for offset in _offsets(plan, None, start):
        _add_alarm(event, _before(offset), reminder)
    return event


def checkin_series(plan: Plan, person: Person, stamping: Stamping | None = None) -> Event | None:
    """One person's check-ins as one recurring event in their own zone; None if they have none.

    DTSTART is the first scheduled day at ``checkins.at``, the RRULE is the one
    ``timeline.checkin_rule`` gives, and every pause or away day is an EXDATE, so
    the series expands to exactly the windows ``timeline.compile`` opens. From the
    first scheduled day on which that wall time is missing or repeated (a clock
    change), the windows are instants instead (``_add_cut_series``).
    """
    checkins, days = plan.checkins, checkin_days(plan)
    if checkins is None or not days:
        return None
    stamping = stamping or Stamping.of()
    zone = plan.zone_of(person)
    summary = _label(plan, "checkin", name=person.name)
    event = _new_event(plan, f"checkins/{person.id}", summary, stamping)
    excused = excused_days(plan, person)
    moments = [datetime.combine(day, checkins.at, tzinfo=zone) for day in days]
    # The rule must not reach a clock change, not even on a day it leaves out.
    looked_at = (datetime.combine(day, checkins.at, tzinfo=zone) for day in _candidates(plan))
    cut = next((moment.date() for moment in looked_at if in_clock_change(moment)), None)
    if cut is None:
        rule = _until(checkin_rule(checkins, plan.start), plan.end, person, plan)
        _add_rule(event, moments[0], rule, excused)
    else:
        if all(day in excused for day in days):
            return None  # no window opens: nothing to read in any client
        _add_cut_series(event, plan, moments[0], excused, cut)
    _add_details(event, None, _checkin_text(plan))
    _add_people(event, plan, (person,), stamping)
    return event


def _candidates(plan: Plan) -> tuple[date, ...]:
    """The days a client's rule iterator looks at: with BYSETPOS, all it chooses from.

    libical moves every later occurrence by the hour of a gap its iterator met,
    also on a day BYSETPOS then leaves out (the last Sunday of a month passes the
    first, the day Sydney's clocks go forward).
    """
    assert plan.checkins is not None
    rule = checkin_rule(plan.checkins, plan.start)
    parts = [part for part in rule.split(";") if not part.upper().startswith("BYSETPOS=")]
    return series(";".join(parts), plan.start, plan.end)


def _add_rule(event: Event, start: datetime, rule: vRecur, excused: Iterable[date]) -> None:
    """DTSTART, the RRULE and an EXDATE at the start's wall time for every excused day."""
    event.add("dtstart", start)
    event.add("duration", CHECKIN_LENGTH)
    event.add("rrule", rule)
    for day in excused:
        event.add("exdate", datetime.combine(day, start.timetz()))


def _add_cut_series(
    event: Event, plan: Plan, start: datetime, excused: list[date], cut: date
) -> None:
    """A series from ``start`` whose wall time is in a clock change on the day ``cut``.

    A rule whose wall time falls in a spring gap or the repeated autumn hour is
    expanded differently by every client: ical.js takes the offset after a gap,
    libical moves the week after a gap as well, and both take the second of a
    repeated hour, where RFC 5545 and the timeline take the offset before the
    change. An EXDATE cannot take such an occurrence out for an RDATE to add back:
    the EXDATE means the very instant the RDATE adds (RFC 5545 §3.8.5.1), so
    ``recurring-ical-events``, which follows the RFC, drops both; and libical still
    moves the week after an excluded gap. So the rule (from ``start``, the first
    scheduled day) ends at the last window before ``cut`` and every window from
    there is an RDATE in UTC, one per line (some servers misread lists), which
    every client reads alike.
    """
    assert plan.checkins is not None
    days = [day for day in checkin_days(plan) if day not in excused]
    opens = [datetime.combine(day, start.timetz()) for day in days]
    head = [moment for moment in opens if moment.date() < cut]
    if head:
        rule = vRecur(vRecur.from_ical(checkin_rule(plan.checkins, plan.start)))
        rule["UNTIL"] = [head[-1].astimezone(UTC)]
        _add_rule(event, start, rule, [day for day in excused if day < head[-1].date()])
        tail = opens[len(head) :]
    else:
        # ical.js leaves out the DTSTART of an event with RDATEs and no RRULE, and
        # libical counts a DTSTART that is also an RDATE twice: a rule of one it is.
        event.add("dtstart", opens[0].astimezone(UTC))
        event.add("duration", CHECKIN_LENGTH)
        event.add("rrule", vRecur(FREQ="DAILY", COUNT=1))
        tail = opens[1:]
    for moment in tail:
        event.add("rdate", moment.astimezone(UTC))


def _checkin_text(plan: Plan) -> list[str]:
    assert plan.checkins is not None
    lines = [_label(plan, "checkin_text", title=plan.title)]
    if plan.checkins.questions:
        lines.append(f"{_label(plan, 'questions')}:")
        lines.extend(f"- {question}" for question in plan.checkins.questions)
    return lines


def _until(rule: str, end: date, person: Person, plan: Plan) -> vRecur:
    """The rule ending at the last instant of the plan's end date in the person's zone, in UTC."""
    recur = vRecur(vRecur.from_ical(rule))
    after_end = local_moment(end + timedelta(days=1), time(0), plan.zone_of(person))
    recur["UNTIL"] = [after_end - timedelta(seconds=1)]
    return recur


# -- whole calendars ----------------------------------------------------------------


def _concerns(plan: Plan, milestone: Milestone, person: Person) -> bool:
    people = plan.attendees(milestone) if milestone.is_meeting else plan.reminded(milestone)
    return any(someone.id == person.id for someone in people)


def milestone_event(plan: Plan, milestone: Milestone, stamping: Stamping | None = None) -> Event:
    """The event of a milestone, whichever kind it is."""
    if milestone.is_meeting:
        return meeting_event(plan, milestone, stamping)
    return deadline_event(plan, milestone, stamping)


def events_for(
    plan: Plan, person: str | None = None, stamping: Stamping | None = None
) -> list[Event]:
    """Every event of the plan, or only those that concern one person (by id).

    In plan order: milestones, the handover, then the check-in series.
    """
    stamping = stamping or Stamping.of()
    someone = plan.person(person) if person is not None else None
    events = [
        milestone_event(plan, milestone, stamping)
        for milestone in plan.milestones
        if someone is None or _concerns(plan, milestone, someone)
    ]
    if plan.handover is not None and (someone is None or someone in plan.handover_recipients()):
        events.append(handover_event(plan, stamping))
    for member in plan.checkin_people():
        series = checkin_series(plan, member, stamping) if someone in (None, member) else None
        events += [series] if series is not None else []
    return events


def build_calendar(
    plan: Plan,
    person: str | None = None,
    settings: Settings | None = None,
    stamp: datetime | None = None,
    sequences: Mapping[str, int] | None = None,
    method: str = "PUBLISH",
) -> bytes:
    """The plan (or one person's part of it) as an .ics file: CRLF, lines folded at 75 octets."""
    stamping = Stamping.of(settings, stamp, sequences)
    if person is not None:
        stamping = replace(stamping, viewer=plan.zone_of(plan.person(person)))
    events = events_for(plan, person, stamping)
    if method == "PUBLISH":
        for event in events:
            event.pop("ATTENDEE", None)  # RFC 5546 §3.2.1: no attendees in a PUBLISH
    name = f"{plan.title} – {plan.person(person).name}" if person else plan.title
    data: bytes = calendar_of(plan, events, method, name).to_ical()
    return data


@dataclass(frozen=True)
class PlanEvent:
    """One event of the plan with what it is and who is invited to it by e-mail."""

    item: str  # "milestone/intake", "handover", "checkins/eva"
    ref: str  # what a log line names: the milestone id, "handover", the person
    event: Event
    invited: tuple[Person, ...]  # meetings only: attendees with an e-mail address

    @property
    def uid(self) -> str:
        return str(self.event["UID"])


def by_email(person: Person | None) -> bool:
    """Whether ``person`` can be sent an invitation: an address, and e-mail agreed."""
    return person is not None and bool(person.email) and "email" in person.channels


def _emailed(people: list[Person]) -> tuple[Person, ...]:
    return tuple(person for person in people if by_email(person))


def plan_events(plan: Plan, stamping: Stamping) -> list[PlanEvent]:
    """Every event of the plan, in ``ics.events_for`` order, each with its invitees."""
    found = []
    for milestone in plan.milestones:
        event = milestone_event(plan, milestone, stamping)
        invited = _emailed(plan.attendees(milestone)) if milestone.is_meeting else ()
        found.append(PlanEvent(f"milestone/{milestone.id}", milestone.id, event, invited))
    if plan.handover is not None:
        event = handover_event(plan, stamping)
        invited = _emailed(plan.handover_recipients())
        found.append(PlanEvent("handover", "handover", event, invited))
    for person in plan.checkin_people():
        series = checkin_series(plan, person, stamping)
        if series is not None:
            found.append(PlanEvent(f"checkins/{person.id}", person.id, series, ()))
    return found
