"""Risk per person and per plan, explainable (docs/architecture §7). Pure: windows in, levels out.

Every level comes with the reasons that raised it, each a code, a level and the
numbers behind it, so ``status --json``, the status page and every warning
message say *why* in the reader's language. The rules, per person who checks in:

- **consecutive misses** (the streak): 1 -> watch, 2 or more -> at risk, as many
  as the last step of the plan's ladder -> dropout;
- **the last answer's status**: ``need_help`` -> watch, ``blocked`` -> at risk,
  ``stopping`` -> dropout (a later ``on_track`` clears it);
- **misses in the last K windows** (K = 4), when more than the streak: 2 -> watch,
  3 or more -> at risk;
- **lateness**: 2 or more of the last K answers after the window closed, or
  answers coming later each time (the last three, the last one past half the
  grace period) -> watch;
- **days since last contact**, without the excused days (pauses, away), when no
  streak explains it already: more than two check-in intervals -> watch, more
  than three -> at risk;
- **overdue deadlines** the person owns: overdue -> watch, more than a week -> at risk.

And per meeting, on the plan's list (``calendar_reasons``, from the calendar replies of
``worker.inbound.itip``), each -> watch until the meeting is over:

- **declined**: the partner contact, the lead or the meeting's owner declined the revision
  they were last sent;
- **not accepted**: from two days before the start, the partner contact has not accepted
  the revision they were last sent (no answer, tentative, declined or delegated).

The plan's level is the highest of its people and of the overdue deadlines that
no one who checks in owns. Windows that were never tracked (before the plan
was registered, or their request never went) and excused windows count for nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from statistics import median
from typing import TYPE_CHECKING, Any

from config.plan import Milestone, Person, Plan
from worker import messages
from worker.checkins.windows import UNCLEAR
from worker.messages import NP_, pgettext_in
from worker.messages.words import counted, listed
from worker.timeline import local_moment

if TYPE_CHECKING:
    from worker.checkins.windows import Window

LEVELS = ("ok", "watch", "at_risk", "dropout")
RECENT = 4  # K: how many of the last closed windows count for "misses" and "lateness"
DAY = 86400.0

STATUS_LEVEL = {"need_help": "watch", "blocked": "at_risk", "stopping": "dropout"}

LEVEL = "risk level"  # the catalog contexts of these words (docs/glossary.md)
REASON = "risk reason"
LEVEL_WORDS = {
    "ok": NP_("risk level", "fine"),
    "watch": NP_("risk level", "watch"),
    "at_risk": NP_("risk level", "at risk"),
    "dropout": NP_("risk level", "about to drop out"),
}

# One sentence per reason, without a subject, so it reads right in a nudge to the
# person themselves and in a warning about them. ``{note}`` is ': "…"' or empty.
SENTENCES: dict[str, str] = {
    "streak_one": NP_("risk reason", "The check-in of {since} was missed."),
    "streak": NP_("risk reason", "{count} check-ins in a row were missed, since {since}."),
    "status_need_help": NP_("risk reason", "The last check-in ({day}) asked for help{note}."),
    "status_blocked": NP_(
        "risk reason", "The last check-in ({day}) said the work is blocked{note}."
    ),
    "status_stopping": NP_(
        "risk reason", "The last check-in ({day}) said they have to stop{note}."
    ),
    "recent": NP_("risk reason", "{misses} of the last {total} check-ins were missed."),
    "late": NP_(
        "risk reason", "{late} of the last {total} check-ins came in after the window had closed."
    ),
    "trend": NP_("risk reason", "Answers come later each time: {delays} after the request."),
    "silence": NP_("risk reason", "No check-in for {days} (the last on {last})."),
    "silence_never": NP_(
        "risk reason", "No check-in at all since the first request on {first} ({days})."
    ),
    "overdue": NP_(
        "risk reason", "“{title}” was due on {due} and is not done yet ({days} overdue)."
    ),
    "who": NP_("risk reason", "{who}: {text}"),
    "declined": NP_("risk reason", "{name} declined “{title}” ({day}){note}."),
    "not_accepted": NP_(
        "risk reason", "The partner contact {name} has not accepted “{title}” ({day}) yet."
    ),
}


def level_words(level: str, lang: str) -> str:
    return pgettext_in(lang, LEVEL, LEVEL_WORDS[level])


def higher(first: str, second: str) -> str:
    return first if LEVELS.index(first) >= LEVELS.index(second) else second


def _plain(text: str) -> str:
    return text


@dataclass(frozen=True)
class Reason:
    """Why a level was raised: a code, the level it raises to, and the facts behind it."""

    code: str
    level: str
    values: Mapping[str, Any] = field(default_factory=dict)  # JSON values only
    who: str | None = None  # the person's name, on the plan's list of reasons

    def text(self, lang: str, escape: Callable[[str], str] = _plain) -> str:
        """The reason as one sentence; ``escape`` guards plan text and notes (Markdown)."""
        key = self.code if self.code != "status" else f"status_{self.values['status']}"
        if self.code == "streak" and self.values["count"] == 1:
            key = "streak_one"
        if self.code == "silence" and self.values.get("last") is None:
            key = "silence_never"
        text = pgettext_in(lang, REASON, SENTENCES[key]).format(**self._words(lang, escape))
        if self.who:
            return pgettext_in(lang, REASON, SENTENCES["who"]).format(
                who=escape(self.who), text=text
            )
        return text

    def _words(self, lang: str, escape: Callable[[str], str]) -> dict[str, Any]:
        words: dict[str, Any] = dict(self.values)
        for name in ("since", "day", "due", "last", "first"):
            if words.get(name):
                words[name] = short_day(date.fromisoformat(words[name]), lang)
        if "days" in words:
            words["days"] = counted(int(words["days"]), "day", lang)
        for name in ("title", "name"):
            if name in words:
                words[name] = escape(str(words[name]))
        if "delays" in words:
            words["delays"] = listed([delay_words(float(d), lang) for d in words["delays"]], lang)
        note = str(words.get("note") or "")
        words["note"] = f": “{escape(note)}”" if note else ""
        return words

    def as_json(self, lang: str = "en") -> dict[str, Any]:
        found: dict[str, Any] = {"code": self.code, "level": self.level, **self.values}
        if self.who:
            found["who"] = self.who
        found["text"] = self.text(lang)
        return found

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reason:
        values = {k: v for k, v in data.items() if k not in ("code", "level", "who", "text")}
        return cls(str(data["code"]), str(data["level"]), values, data.get("who"))


@dataclass(frozen=True)
class Risk:
    """A level with its reasons (``ok`` has none) and the numbers it was read from."""

    level: str
    reasons: tuple[Reason, ...] = ()
    factors: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self, lang: str = "en") -> dict[str, Any]:
        return {
            "level": self.level,
            "reasons": [reason.as_json(lang) for reason in self.reasons],
            **({"factors": dict(self.factors)} if self.factors else {}),
        }


def risk_of(reasons: Iterable[Reason], factors: Mapping[str, Any] | None = None) -> Risk:
    ordered = sorted(reasons, key=lambda r: -LEVELS.index(r.level))
    level = ordered[0].level if ordered else "ok"
    return Risk(level, tuple(ordered), dict(factors or {}))


def short_day(day: date, lang: str) -> str:
    """``1 februari`` / ``1 February`` (the year when it is not obvious is rarely needed)."""
    return messages.format_day(day, lang, "d MMMM")


def delay_words(seconds: float, lang: str) -> str:
    if seconds < DAY:
        return counted(max(1, round(seconds / 3600)), "hour", lang)
    return counted(round(seconds / DAY), "day", lang)


# -- overdue deadlines -----------------------------------------------------------------


@dataclass(frozen=True)
class Overdue:
    milestone: Milestone
    due: date
    days: int  # whole days since the due date

    def reason(self, who: str | None = None) -> Reason:
        level = "at_risk" if self.days > 7 else "watch"
        values: dict[str, Any] = {"milestone": self.milestone.id, "title": self.milestone.title}
        values.update(due=self.due.isoformat(), days=self.days)
        return Reason("overdue", level, values, who)


def overdue_from(plan: Plan, milestone: Milestone) -> float:
    """A deadline is overdue once its due date is over: 00:00 the next day, plan's zone."""
    assert milestone.due is not None
    return local_moment(milestone.due + timedelta(days=1), time(0), plan.zone).timestamp()


def overdue_deadlines(plan: Plan, done: Iterable[str], now: float) -> list[Overdue]:
    finished = set(done)
    found = []
    for milestone in plan.deadlines():
        assert milestone.due is not None
        if milestone.id in finished or now < overdue_from(plan, milestone):
            continue
        today = datetime.fromtimestamp(now, plan.zone).date()
        found.append(Overdue(milestone, milestone.due, (today - milestone.due).days))
    return sorted(found, key=lambda o: (o.due, o.milestone.id))


# -- one person --------------------------------------------------------------------------


def closed(windows: Sequence[Window]) -> list[Window]:
    """The windows that count: closed, tracked and not excused, in order."""
    return [w for w in windows if w.state in ("answered", "late", "missed")]


def current_streak(windows: Sequence[Window]) -> list[Window]:
    """The missed windows since the last answer, oldest first."""
    run: list[Window] = []
    for window in reversed(closed(windows)):
        if window.state != "missed":
            break
        run.append(window)
    return run[::-1]


def assess_person(
    plan: Plan,
    person: Person,
    windows: Sequence[Window],
    overdue: Sequence[Overdue],
    now: float,
    excused_days: Iterable[date] = (),
) -> Risk:
    """The risk of one person who checks in, from their windows so far."""
    counted_windows = closed(windows)
    streak = current_streak(windows)
    recent = counted_windows[-RECENT:]
    misses = sum(1 for w in recent if w.state == "missed")
    late = sum(1 for w in recent if w.state == "late")
    silence = _silence(plan, windows, now, excused_days)
    reasons = [
        *_streak(plan, streak),
        *_status(windows),
        *_recent(misses, len(recent), len(streak)),
        *_lateness(plan, counted_windows, late, len(recent)),
        *([] if streak else _quiet(silence, _interval(windows))),
        *(o.reason() for o in overdue if o.milestone.owner == person.id),
    ]
    factors = {
        "consecutive_misses": len(streak),
        "recent_misses": misses,
        "recent_late": late,
        "recent_windows": len(recent),
        "days_since_contact": silence[0] if silence else None,
        "overdue": [o.milestone.id for o in overdue if o.milestone.owner == person.id],
    }
    return risk_of(reasons, factors)


def dropout_after(plan: Plan) -> int:
    assert plan.checkins is not None
    return max(step.after for step in plan.checkins.escalate)


def _streak(plan: Plan, streak: list[Window]) -> list[Reason]:
    if not streak:
        return []
    count = len(streak)
    level = "dropout" if count >= dropout_after(plan) else "at_risk" if count >= 2 else "watch"
    return [Reason("streak", level, {"count": count, "since": streak[0].day})]


def _status(windows: Sequence[Window]) -> list[Reason]:
    # A reply without a status is contact, not a change of status: the one before it holds.
    answered = [
        w for w in windows if w.state in ("answered", "late") and w.status not in (None, UNCLEAR)
    ]
    if not answered:
        return []
    last = max(answered, key=lambda w: (w.opens, w.answered_at or 0.0))
    if last.status not in STATUS_LEVEL:
        return []
    values = {"status": last.status, "day": last.day, "note": last.note}
    return [Reason("status", STATUS_LEVEL[str(last.status)], values)]


def _recent(misses: int, total: int, streak: int) -> list[Reason]:
    if misses < 2 or misses <= streak:
        return []
    level = "at_risk" if misses >= 3 else "watch"
    return [Reason("recent", level, {"misses": misses, "total": total})]


def _lateness(plan: Plan, windows: list[Window], late: int, total: int) -> list[Reason]:
    found = []
    if late >= 2:
        found.append(Reason("late", "watch", {"late": late, "total": total}))
    answers = [w for w in windows[-3:] if w.answered_at is not None]
    delays = [float(w.answered_at or 0.0) - w.opens for w in answers]
    if len(delays) == 3 and delays[0] < delays[1] < delays[2]:
        grace = answers[-1].closes - answers[-1].opens
        if delays[-1] > grace / 2:
            found.append(Reason("trend", "watch", {"delays": [round(d) for d in delays]}))
    return found


def _silence(
    plan: Plan, windows: Sequence[Window], now: float, excused_days: Iterable[date]
) -> tuple[int, str | None, str] | None:
    """(days without contact, last answer day or None, first window day), excused days off."""
    tracked = [w for w in windows if w.state in ("answered", "late", "missed", "pending")]
    if not tracked or tracked[0].closes > now:
        return None  # silence only counts once the first window has closed
    answers = [w.answered_at for w in tracked if w.answered_at is not None]
    since = max(answers) if answers else tracked[0].opens
    today = datetime.fromtimestamp(now, plan.zone).date()
    start = datetime.fromtimestamp(since, plan.zone).date()
    off = sum(1 for day in set(excused_days) if start < day <= today)
    last = next(
        (w.day for w in sorted(tracked, key=lambda w: -(w.answered_at or 0)) if w.answered_at),
        None,
    )
    return max(0, (today - start).days - off), last, tracked[0].day


def _interval(windows: Sequence[Window]) -> float:
    """The usual number of days between two windows (7 for weekly check-ins)."""
    opens = sorted(w.opens for w in windows)
    gaps = [(b - a) / DAY for a, b in pairwise(opens) if b > a]
    return max(1.0, median(gaps)) if gaps else 7.0


def _quiet(silence: tuple[int, str | None, str] | None, interval: float) -> list[Reason]:
    if silence is None:
        return []
    days, last, first = silence
    if days <= 2 * interval:
        return []
    level = "at_risk" if days > 3 * interval else "watch"
    return [Reason("silence", level, {"days": days, "last": last, "first": first})]


# -- the plan ----------------------------------------------------------------------------


def assess_plan(plan: Plan, people: Mapping[str, Risk], overdue: Sequence[Overdue]) -> Risk:
    """The plan's level: the highest of its people and of unowned overdue deadlines."""
    checking = {p.id for p in plan.checkin_people()}
    reasons = [
        Reason(r.code, r.level, r.values, plan.person(person_id).name)
        for person_id, risk in people.items()
        for r in risk.reasons
    ]
    for late in overdue:
        if late.milestone.owner not in checking:
            owner = late.milestone.owner
            reasons.append(late.reason(plan.person(owner).name if owner else None))
    return risk_of(reasons)


# -- meetings ----------------------------------------------------------------------------

NOTICE = 2 * DAY  # how long before a meeting the partner contact's acceptance is missed


@dataclass(frozen=True)
class MeetingAnswers:
    """A meeting and each invitee's answer to the revision they were last sent."""

    uid: str
    ref: str  # the milestone id, or "handover"
    title: str
    start: float | None
    ends: float | None
    answers: Mapping[str, str]  # person id -> accepted | tentative | declined | ...
    comments: Mapping[str, str] = field(default_factory=dict)
    owner: str | None = None


def calendar_reasons(plan: Plan, meetings: Iterable[MeetingAnswers], now: float) -> list[Reason]:
    """The plan's reasons from the calendar replies of meetings that are not over yet."""
    found: list[Reason] = []
    for meeting in meetings:
        if meeting.ends is None or meeting.ends > now:
            found += _declined(plan, meeting) + _not_accepted(plan, meeting, now)
    return found


def _meeting_values(plan: Plan, meeting: MeetingAnswers, person: Person) -> dict[str, Any]:
    day = None
    if meeting.start is not None:
        day = datetime.fromtimestamp(meeting.start, plan.zone).date().isoformat()
    values = {"milestone": meeting.ref, "title": meeting.title, "day": day}
    return {**values, "person": person.id, "name": person.name}


def _declined(plan: Plan, meeting: MeetingAnswers) -> list[Reason]:
    """A decline that matters: the partner contact's, the lead's, the owner's."""
    counted_people = (plan.contact.id, plan.lead.id, meeting.owner)
    return [
        Reason(
            "declined",
            "watch",
            {
                **_meeting_values(plan, meeting, plan.person(person_id)),
                "note": meeting.comments.get(person_id, ""),
            },
        )
        for person_id in dict.fromkeys(p for p in counted_people if p)
        if meeting.answers.get(person_id) == "declined"
    ]


def _not_accepted(plan: Plan, meeting: MeetingAnswers, now: float) -> list[Reason]:
    """Two days before the start, no acceptance from the partner contact (a decline has
    its own reason)."""
    answer = meeting.answers.get(plan.contact.id)
    if meeting.start is None or answer in (None, "accepted", "declined"):
        return []
    if not meeting.start - NOTICE <= now < meeting.start:
        return []
    values = {**_meeting_values(plan, meeting, plan.contact), "answer": answer}
    return [Reason("not_accepted", "watch", values)]
