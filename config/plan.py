"""The plan: one partnership's agreement, plan file format v1 (docs/architecture.md §2).

These models check the shape of each value: types, formats, unknown keys. The
rules that relate one part of a plan to another (references, dates inside the
project, configured channels) are in ``config.rules`` so that every error of a
plan is reported at once, even when some values are malformed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    WithJsonSchema,
    model_validator,
)

from config import notation
from config.notation import Duration, Reachable

ID_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
# The local part as RFC 5322 writes it unquoted (a dot-atom): what an e-mail header
# can carry. 'a..b' or 'a(b' passed before, and then no e-mail to them could be built.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
EMAIL_PATTERN = rf"^{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+$"
PHONE_PATTERN = r"^\+[1-9][0-9]{6,14}$"
SECRET_PATTERN = r"^env:[A-Za-z_][A-Za-z0-9_]*$"  # noqa: S105 - a pattern, not a secret
DURATION_PATTERN = (
    r"^(?:(?:\d+\s*[wdhms]\s*)+|P(?:\d+W)?(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+S)?)?)$"
)
CHANNELS = (
    "email",
    "sms",
    "whatsapp",
    "slack",
    "teams",
    "mattermost",
    "telegram",
    "webhook",
    "apprise",
)
FREQUENCIES = ("daily", "weekly", "biweekly", "monthly")


def _check_id(value: str) -> str:
    if not re.match(ID_PATTERN, value):
        raise ValueError(
            f"'{value}' is not an id: use lower-case letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def _check_email(value: str) -> str:
    if not re.match(EMAIL_PATTERN, value):
        raise ValueError(f"'{value}' is not an e-mail address")
    return value


def _check_phone(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f'write the phone number as quoted text in E.164 form, like "+{value}"')
    if not isinstance(value, str):
        raise ValueError('expected a phone number in E.164 form, like "+31612345678"')
    compact = re.sub(r"[\s().-]", "", value)
    if not re.match(PHONE_PATTERN, compact):
        raise ValueError(
            f"'{value}' is not an E.164 phone number: '+', the country code "
            "and the number, like +31612345678"
        )
    return compact


def _check_secret(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("expected env:NAME, the environment variable that holds the secret")
    if not re.match(SECRET_PATTERN, value.strip()):
        raise ValueError(
            "a secret never stands in a plan: write env:NAME and set the "
            "environment variable NAME (or NAME_FILE) where pactkeeper runs"
        )
    return value.strip()


def _check_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"'{value}' is not an http(s) URL")
    return value


# A line break or control character in a name or title reaches e-mail headers,
# calendar lines and terminals, where it breaks the message or the screen. U+0085
# (NEL) is among the C1 codes.
_NOT_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Longer text may span lines (a YAML block) and hold tabs, but no other control code.
_NOT_PROSE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAKS = "\n\r\x0b\x0c\x85\u2028\u2029"


def _check_line(value: str) -> str:
    found = _NOT_ONE_LINE.search(value)
    if found is None:
        return value
    char = found.group()
    if char in _LINE_BREAKS:
        raise ValueError(f"holds a line break (U+{ord(char):04X}); write it as one line")
    raise ValueError(f"holds the control character U+{ord(char):04X}; remove it")


def _check_prose(value: str) -> str:
    found = _NOT_PROSE.search(value)
    if found is not None:
        raise ValueError(f"holds the control character U+{ord(found.group()):04X}; remove it")
    return value


def _line_schema(min_length: int = 0) -> WithJsonSchema:
    schema: dict[str, Any] = {
        "type": "string",
        "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]*$",
    }
    if min_length:
        schema["minLength"] = min_length
    return WithJsonSchema(schema)


def _text_schema(pattern: str | None = None, description: str = "") -> WithJsonSchema:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    if description:
        schema["description"] = description
    return WithJsonSchema(schema)


Id = Annotated[str, AfterValidator(_check_id), _text_schema(ID_PATTERN, "lower-case id")]
Email = Annotated[
    str,
    AfterValidator(_check_line),
    AfterValidator(_check_email),
    _text_schema(None, "e-mail address"),
]
Phone = Annotated[
    str, PlainValidator(_check_phone), _text_schema(PHONE_PATTERN, "E.164 phone number")
]
Secret = Annotated[
    str, PlainValidator(_check_secret), _text_schema(SECRET_PATTERN, "env:NAME of a secret")
]
Url = Annotated[
    str,
    AfterValidator(_check_line),
    AfterValidator(_check_url),
    _text_schema(r"^https?://", "http(s) URL"),
]
Zone = Annotated[str, PlainValidator(notation.parse_zone), _text_schema(None, "IANA time zone")]
DurationText = Annotated[
    Duration,
    PlainValidator(notation.parse_duration),
    PlainSerializer(str, return_type=str),
    _text_schema(DURATION_PATTERN, "duration: 90m, 2h, 3d, 1w or ISO 8601 (P3D)"),
]
Day = Annotated[
    date,
    PlainValidator(notation.parse_date),
    _text_schema(r"^\d{4}-\d{2}-\d{2}$", "date YYYY-MM-DD"),
]
DayTime = Annotated[
    datetime,
    PlainValidator(notation.parse_datetime),
    _text_schema(r"^\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}$", "date and time, plan's zone"),
]
Clock = Annotated[
    time, PlainValidator(notation.parse_time), _text_schema(r"^\d{1,2}:\d{2}$", "HH:MM")
]
ReachableText = Annotated[
    Reachable,
    PlainValidator(notation.parse_reachable),
    PlainSerializer(lambda r: r.text, return_type=str),
    _text_schema(None, "reachable hours, like 'mon-fri 09:00-17:00' or 'ma-do 09:00-17:00'"),
]
Weekday = Annotated[
    int,
    PlainValidator(notation.parse_weekday),
    WithJsonSchema({"type": "string", "enum": sorted(notation.DAY_NAMES)}),
]
# The languages pactkeeper speaks: each has a catalog in worker/messages/locale/. Adding
# one is naming it here and adding its catalog (docs/translations.md); nothing else.
Language = Literal["nl", "en"]
LANGUAGES: tuple[str, ...] = get_args(Language)

ChannelName = Literal[
    "email", "sms", "whatsapp", "slack", "teams", "mattermost", "telegram", "webhook", "apprise"
]
# One line of text: names, titles, places, roles.
Line = Annotated[str, AfterValidator(_check_line), _line_schema()]
LineText = Annotated[str, Field(min_length=1), AfterValidator(_check_line), _line_schema(1)]
# Text that may span lines: descriptions, agreements, notes.
Prose = Annotated[str, AfterValidator(_check_prose)]
Text = Annotated[str, Field(min_length=1), AfterValidator(_check_prose)]


# The id ``pactkeeper forget`` gives an erased person (worker/privacy/holdings.py): the
# entry stays so the plan's references read, and nothing reaches it.
ERASED_PREFIX = "erased-"
_ERASED = re.compile(r"^erased-[0-9a-f]{10}$")


def _default_channels() -> list[ChannelName]:
    return ["email"]


class Section(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, populate_by_name=True
    )


class DateRange(Section):
    first: Day = Field(alias="from")
    last: Day = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.last < self.first:
            raise ValueError("'to' comes before 'from'")
        return self

    def __contains__(self, day: date) -> bool:
        return self.first <= day <= self.last


class Pause(DateRange):
    reason: Line | None = None


class Person(Section):
    id: Id
    name: LineText
    side: Literal["partner", "team"]
    role: Line | None = None
    email: Email | None = None
    phone: Phone | None = None
    channels: list[ChannelName] = Field(default_factory=_default_channels, min_length=1)
    reachable: ReachableText | None = None
    timezone: Zone | None = None
    away: list[DateRange] = Field(default_factory=list)
    language: Language | None = None
    # How a greeting addresses the person ("Hoi Ana"); optional, see ``called``.
    call_name: LineText | None = None
    # The day the person agreed to be reached by SMS and WhatsApp (AVG/GDPR consent).
    # Without it nothing goes to them on those channels (worker.delivery.channels).
    consent: Day | None = None

    @property
    def called(self) -> str:
        """The name a greeting uses: ``call_name``, else the first word of ``name``."""
        if self.call_name:
            return self.call_name
        words = self.name.split()
        return words[0] if words else self.name

    @property
    def erased(self) -> bool:
        """True for the entry of a person erased by ``pactkeeper forget``: nobody sends
        to it, invites it or counts on its check-ins."""
        return bool(_ERASED.match(self.id))

    def is_away(self, day: date) -> bool:
        if not self.away:
            return False
        return any(day in period for period in self.away)


class Partner(Section):
    name: LineText
    mission: Prose | None = None
    problem: Prose | None = None
    contact: Id
    deputy: Id | None = None
    website: Url | None = None


class Team(Section):
    name: LineText
    company: Line | None = None
    lead: Id


class Challenge(Section):
    need: Text
    barriers: list[Literal["time", "money", "skills", "other"]] = Field(default_factory=list)
    questions: list[LineText] = Field(default_factory=list)
    in_scope: list[Text] = Field(default_factory=list)
    out_of_scope: list[Text] = Field(default_factory=list)


class Goal(Section):
    end_result: Text
    kind: Literal["result", "activity"] = "result"
    success_criteria: list[Text] = Field(min_length=1)
    start_small: Prose | None = None


class Milestone(Section):
    """A meeting (``at`` and ``duration``) or a deadline (``due``, all-day)."""

    id: Id
    title: LineText
    at: DayTime | None = None
    duration: DurationText | None = None
    due: Day | None = None
    attendees: list[Id] | None = None
    location: Line | None = None
    owner: Id | None = None
    description: Prose | None = None
    deliverable: Prose | None = None
    acceptance: Prose | None = None
    remind: list[DurationText] | None = None
    notify: list[Id] | None = None

    @model_validator(mode="after")
    def _meeting_or_deadline(self) -> Milestone:
        if (self.at is None) == (self.due is None):
            raise ValueError("a milestone has either 'at' (a meeting) or 'due' (a deadline)")
        if self.due is not None and self.duration is not None:
            raise ValueError("a deadline ('due') has no 'duration'; a meeting uses 'at'")
        if self.duration is not None and self.duration.approx.total_seconds() <= 0:
            raise ValueError("'duration' must be longer than zero")
        return self

    @property
    def is_meeting(self) -> bool:
        return self.at is not None

    @property
    def length(self) -> Duration:
        return self.duration or Duration(seconds=3600)


class EmailChannel(Section):
    reply_to: Email | None = None


class TwilioChannel(Section):
    provider: Literal["twilio"] = "twilio"


class SlackChannel(Section):
    webhook: Secret
    channel: Line | None = None


class TeamsChannel(Section):
    webhook: Secret


class MattermostChannel(Section):
    webhook: Secret
    channel: Line | None = None
    username: Line | None = None


class TelegramChannel(Section):
    token: Secret
    chat_id: Annotated[Line, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)]


class WebhookChannel(Section):
    url: Url
    secret: Secret | None = None


class AppriseChannel(Section):
    url: Secret


class Channels(Section):
    email: EmailChannel | None = None
    sms: TwilioChannel | None = None
    whatsapp: TwilioChannel | None = None
    slack: SlackChannel | None = None
    teams: TeamsChannel | None = None
    mattermost: MattermostChannel | None = None
    telegram: TelegramChannel | None = None
    webhook: WebhookChannel | None = None
    apprise: AppriseChannel | None = None

    @model_validator(mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any) -> Any:
        """``email:`` with nothing after it configures the channel with its defaults.

        The cross-reference rules count every key under ``channels`` as configured;
        the model must agree, or a person's preferred channel would vanish.
        """
        if isinstance(value, dict):
            return {key: {} if entry is None else entry for key, entry in value.items()}
        return value

    def configured(self) -> list[str]:
        return [name for name in CHANNELS if getattr(self, name) is not None]


def _default_remind() -> list[Duration]:
    return [Duration(days=7), Duration(days=1)]


class Communication(Section):
    remind_before: list[DurationText] = Field(default_factory=_default_remind)
    deadline_time: Clock = time(9, 0)
    response_time: DurationText | None = None
    cadence: Line | None = None
    channels: Channels
    notes: list[Text] = Field(default_factory=list)


Rung = LineText


class Step(Section):
    after: int = Field(ge=1)
    notify: list[Rung] = Field(min_length=1)


def _default_ladder() -> list[Step]:
    return [
        Step(after=1, notify=["self"]),
        Step(after=2, notify=["self", "lead"]),
        Step(after=3, notify=["lead", "contact"]),
    ]


def _check_every(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected daily, weekly, biweekly, monthly or an RRULE")
    text = value.strip()
    if text.lower() in FREQUENCIES:
        return text.lower()
    # A second line ("\nRRULE:FREQ=MINUTELY") was read as part of the first rule.
    _check_line(text)
    rule = text.upper().removeprefix("RRULE:")
    if not rule.startswith("FREQ="):
        raise ValueError(
            f"'{text}' is not daily, weekly, biweekly, monthly or an RRULE like "
            "FREQ=WEEKLY;BYDAY=MO,TH"
        )
    notation.check_rule(rule)
    from dateutil.rrule import rrulestr

    try:
        rrulestr(rule, dtstart=datetime(2027, 1, 1))
    except (ValueError, TypeError) as error:
        raise ValueError(f"'{text}' is not a valid RRULE: {error}") from None
    return rule


def _check_who(value: object) -> str | list[str]:
    if value in ("team", "partner", "everyone"):
        return str(value)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return [_check_id(v) for v in value]
    raise ValueError("expected team, partner, everyone or a list of person ids")


Who = Annotated[
    str | list[str],
    PlainValidator(_check_who),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": ["team", "partner", "everyone"]},
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
            ]
        }
    ),
]


def _positive_grace(grace: Duration) -> Duration:
    # With no grace a window closes as it opens: every request came with a "missed"
    # nudge, and the dropout warnings followed although nobody could answer.
    if grace.approx.total_seconds() <= 0:
        raise ValueError("must be longer than zero: it is how long a check-in window is open")
    return grace


class Checkins(Section):
    every: Annotated[
        str,
        PlainValidator(_check_every),
        _text_schema(None, "daily | weekly | biweekly | monthly | an RRULE"),
    ] = "weekly"
    on: Weekday | None = None
    at: Clock = time(9, 0)
    grace: Annotated[DurationText, AfterValidator(_positive_grace)] = Duration(days=2)
    who: Who = "team"
    questions: list[LineText] = Field(default_factory=list)
    escalate: list[Step] = Field(default_factory=_default_ladder, min_length=1)
    pauses: list[Pause] = Field(default_factory=list)

    def paused(self, day: date) -> Pause | None:
        return next((pause for pause in self.pauses if day in pause), None)


class Continuity(Section):
    backup: Prose | None = None
    successor: Id | None = None


class Handover(Section):
    at: DayTime
    duration: DurationText = Duration(seconds=7200)
    recipients: list[Id] | None = None
    documents: list[LineText] = Field(default_factory=list)
    location: Line | None = None
    redact: bool = False


class Privacy(Section):
    """How long the people's data is kept after the close, and who answers for it."""

    # Days after the close that the plan's personal data is erased; unset: the
    # deployment's PACTKEEPER_RETENTION_DAYS (365).
    keep_days: int | None = Field(None, ge=0, le=36500)
    controller: LineText | None = None  # who is responsible; default the partner
    contact: Line | None = None  # where to ask for a copy or erasure; default the contact


class Plan(Section):
    version: Literal[1]
    id: Id
    title: LineText
    language: Language
    timezone: Zone
    start: Day
    end: Day
    partner: Partner
    team: Team
    people: list[Person] = Field(min_length=1)
    challenge: Challenge
    goal: Goal
    milestones: list[Milestone] = Field(default_factory=list)
    communication: Communication
    checkins: Checkins | None = None
    continuity: Continuity | None = None
    handover: Handover | None = None
    agreements: list[Text] = Field(default_factory=list)
    privacy: Privacy = Field(default_factory=Privacy)

    _path: Path | None = PrivateAttr(default=None)
    _text: str = PrivateAttr(default="")

    # -- where the plan came from ------------------------------------------

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def text(self) -> str:
        """The plan file as it was read (for the handover bundle and change detection)."""
        return self._text

    def attach_source(self, path: Path | None, text: str) -> None:
        self._path = path
        self._text = text

    # -- looking things up -------------------------------------------------

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def person(self, person_id: str) -> Person:
        for person in self.people:
            if person.id == person_id:
                return person
        raise KeyError(person_id)

    def zone_of(self, person: Person) -> ZoneInfo:
        return ZoneInfo(person.timezone or self.timezone)

    def language_of(self, person: Person | None) -> str:
        return (person.language if person and person.language else None) or self.language

    @property
    def lead(self) -> Person:
        return self.person(self.team.lead)

    @property
    def contact(self) -> Person:
        return self.person(self.partner.contact)

    def side(self, side: str) -> list[Person]:
        return [person for person in self.people if person.side == side]

    def meetings(self) -> Iterator[Milestone]:
        return (m for m in self.milestones if m.is_meeting)

    def deadlines(self) -> Iterator[Milestone]:
        return (m for m in self.milestones if not m.is_meeting)

    def milestone(self, milestone_id: str) -> Milestone:
        for milestone in self.milestones:
            if milestone.id == milestone_id:
                return milestone
        raise KeyError(milestone_id)

    def present(self) -> list[Person]:
        """The people who take part: everyone but the entries of erased people."""
        return [person for person in self.people if not person.erased]

    def attendees(self, milestone: Milestone) -> list[Person]:
        if milestone.attendees is None:
            return self.present()
        return [p for p in map(self.person, milestone.attendees) if not p.erased]

    def reminded(self, milestone: Milestone) -> list[Person]:
        """Who is reminded of a milestone: ``notify``, else attendees, else owner and lead."""
        if milestone.notify is not None:
            ids = milestone.notify
        elif milestone.is_meeting:
            return self.attendees(milestone)
        else:
            ids = [pid for pid in (milestone.owner, self.team.lead) if pid]
        return [p for p in map(self.person, dict.fromkeys(ids)) if not p.erased]

    def handover_recipients(self) -> list[Person]:
        if self.handover and self.handover.recipients:
            ids = self.handover.recipients
        else:
            ids = [self.partner.contact, self.team.lead]
        return [p for p in map(self.person, dict.fromkeys(ids)) if not p.erased]

    def checkin_people(self) -> list[Person]:
        if self.checkins is None:
            return []
        who = self.checkins.who
        if isinstance(who, list):
            return [p for p in map(self.person, dict.fromkeys(who)) if not p.erased]
        if who == "everyone":
            return self.present()
        return [person for person in self.side(who) if not person.erased]

    def rung(self, name: str, silent: Person) -> list[Person]:
        """The people one name on the escalation ladder stands for."""
        named = {
            "self": [silent.id],
            "lead": [self.team.lead],
            "contact": [self.partner.contact],
            "deputy": [self.partner.deputy] if self.partner.deputy else [],
            "successor": [self.continuity.successor]
            if self.continuity and self.continuity.successor
            else [],
        }
        return [p for p in map(self.person, named.get(name, [name])) if not p.erased]

    @property
    def document_folder(self) -> Path:
        """The folder handover documents are named in: the plan file's, symlinks resolved."""
        return (self.path.parent if self.path else Path.cwd()).resolve()

    def document_paths(self) -> list[Path]:
        """Where each listed document really is, symlinks followed.

        A path that is not inside ``document_folder`` must not be read: a symlink
        made after validation can point anywhere on the server.
        """
        if not self.handover:
            return []
        folder = self.document_folder
        return [real_path(folder / doc) for doc in self.handover.documents]


def real_path(path: Path) -> Path:
    """``path`` with every symlink resolved; a symlink loop resolves to itself."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python 3.11)
        return path


def document_in_folder(folder: Path, name: str) -> Path | None:
    """The real path of the document ``name`` if it lies inside ``folder``, else None.

    Refuses what leaves the folder as written (an absolute path, '..') and what
    leaves it once symlinks are followed (a symlinked file or folder inside it).
    """
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts:
        return None
    root = real_path(folder)
    real = real_path(root / relative)
    return real if real.is_relative_to(root) else None


LADDER_NAMES = ("self", "lead", "contact", "deputy", "successor")
