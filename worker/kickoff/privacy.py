"""The privacy notice of a plan: what is kept about its people, why, how long, who sees it.

The page (``web/privacy.py``, behind ``worker.links.privacy_link``) and the runbook's
privacy section both say it from the plan as it stands, so the notice names only what
this plan really holds: no line about phone numbers when nobody has one, only the
channels someone is reached on. This module works out the facts; the templates hold the
sentences (``web/templates/privacy.html.j2``, ``runbook.md.j2``).

How long: the people's data is erased ``keep_days`` days after the close (the plan's
``privacy.keep_days``, else the deployment's ``PACTKEEPER_RETENTION_DAYS``); the close
is at 00:00 after the plan's last day, so the day of erasure is ``end + 1 + keep_days``.
The notice's own link keeps answering ``LINK_DAYS_AFTER`` days beyond that, so a reader
who looks shortly after the erasure still learns what happened, and then stops: the page
names the lead and the contact, who are personal data too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit

from config.plan import CHANNELS, Plan
from config.settings import Settings
from worker.messages.words import WORDS, listed
from worker.timeline import local_moment

LINK_DAYS_AFTER = 30  # the notice's link answers this long after the data is erased
SMS_CHANNELS = ("sms", "whatsapp")  # the channels that need a person's consent
REPLY_CHANNELS = ("sms", "whatsapp", "telegram")  # replies come back on these by themselves


@dataclass(frozen=True)
class Kept:
    """Which kinds of personal data this plan holds (names and delivery records always)."""

    emails: bool
    phones: bool
    reachable: bool
    zones: bool
    away: bool
    checkins: bool
    replies: bool
    calendar: bool
    consent: bool


@dataclass(frozen=True)
class Notice:
    """Everything the privacy notice says, as facts: plan text is escaped by the template."""

    plan_id: str
    title: str
    partner: str
    team: str
    controller: str
    contact: str  # the words of ``privacy.contact``, or the contact person's name
    contact_email: str | None  # the contact person's address, when the default is used
    lead: str
    partner_contact: str
    keep_days: int
    erased_on: date
    kept: Kept
    channels: list[str]  # the channels someone in the plan is reached on, in CHANNELS order
    channel_words: str  # the same in words: "e-mail, SMS en Slack"
    consent_words: str  # those that need consent, in words: "SMS en WhatsApp"
    webhook_host: str | None  # where the plan's webhook delivers, when someone uses it
    handover_to: str  # who receives the handover bundle, in words


def keep_days(settings: Settings, plan: Plan) -> int:
    """Days after the close that the plan's personal data is kept."""
    if plan.privacy.keep_days is not None:
        return plan.privacy.keep_days
    return settings.retention_days


def erased_on(settings: Settings, plan: Plan, closed: float | None = None) -> date:
    """The day the plan's personal data is erased: ``keep_days`` after the close, the one
    recorded when the plan closed (early, with ``pactkeeper close``), else the close the
    plan schedules (00:00 after its end)."""
    days = keep_days(settings, plan)
    if closed is None:
        return plan.end + timedelta(days=1 + days)
    return datetime.fromtimestamp(closed + days * 86400.0, plan.zone).date()


def link_ends(settings: Settings, plan: Plan, closed: float | None = None) -> datetime:
    """The moment the notice's link stops answering (00:00 in the plan's zone)."""
    last = erased_on(settings, plan, closed) + timedelta(days=LINK_DAYS_AFTER)
    return local_moment(last, time(0), plan.zone)


def channels_used(plan: Plan) -> list[str]:
    used = {channel for person in plan.present() for channel in person.channels}
    return [channel for channel in CHANNELS if channel in used]


def kept(settings: Settings, plan: Plan) -> Kept:
    people = plan.present()
    channels = channels_used(plan)
    emails = any(person.email for person in people)
    meetings = any(True for _ in plan.meetings()) or plan.handover is not None
    return Kept(
        emails=emails,
        phones=any(person.phone for person in people),
        reachable=any(person.reachable for person in people),
        zones=any(person.timezone for person in people),
        away=any(person.away for person in people),
        checkins=bool(plan.checkin_people()),
        replies=bool(settings.reply_address and emails)
        or any(channel in REPLY_CHANNELS for channel in channels),
        calendar=meetings and "email" in channels,
        consent=any(channel in SMS_CHANNELS for channel in channels),
    )


def contact_words(plan: Plan) -> tuple[str, str | None]:
    """Whom to write to: the plan's ``privacy.contact``, else the partner's contact person."""
    if plan.privacy.contact:
        return plan.privacy.contact, None
    return plan.contact.name, plan.contact.email


def notice(settings: Settings, plan: Plan, closed: float | None = None) -> Notice:
    contact, email = contact_words(plan)
    channels = channels_used(plan)
    hook = plan.communication.channels.webhook
    return Notice(
        plan_id=plan.id,
        title=plan.title,
        partner=plan.partner.name,
        team=plan.team.name,
        controller=plan.privacy.controller or plan.partner.name,
        contact=contact,
        contact_email=email,
        lead=plan.lead.name,
        partner_contact=plan.contact.name,
        keep_days=keep_days(settings, plan),
        erased_on=erased_on(settings, plan, closed),
        kept=kept(settings, plan),
        channels=channels,
        channel_words=_words(plan, channels),
        consent_words=_words(plan, [c for c in channels if c in SMS_CHANNELS]),
        webhook_host=_host(hook.url) if hook and "webhook" in channels else None,
        handover_to=listed([person.name for person in plan.handover_recipients()], plan.language),
    )


def _words(plan: Plan, channels: list[str]) -> str:
    return listed([WORDS[plan.language].channels[c] for c in channels], plan.language)


def _host(url: str) -> str:
    return urlsplit(url).hostname or url
