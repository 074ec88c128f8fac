"""Every secret link pactkeeper hands out: check-in, status page, runbook, privacy notice,
calendar feed, bundle.

One home, so what a link grants, how long it lasts and where it points are read in one
place (docs/architecture.md §9). ``worker.tokens`` is the signing primitive; the web app
verifies what is made here. The token purposes ("checkin", "status", "runbook", "privacy",
"feed", "bundle", "reply") and their fields are persisted in every link sent: they never change.
"""

from __future__ import annotations

import hashlib
import re
from datetime import time, timedelta

from config.plan import Person, Plan
from config.settings import Settings
from worker import tokens
from worker.timeline import local_moment

CHECKIN_LINK_DAYS = 7  # a check-in link keeps working this long after its window closes
STATUS_LINK_DAYS = 180  # the status page link outlives the plan by this long


def _base(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


def checkin_link(settings: Settings, plan: Plan, person: Person, window: str, closes: float) -> str:
    """One person's link to answer one check-in window (``window``: its day)."""
    fields = {"p": plan.id, "u": person.id, "w": window}
    expires = closes + CHECKIN_LINK_DAYS * 86400
    token = tokens.sign(settings.signing_key, "checkin", fields, expires=expires)
    return f"{_base(settings)}/checkin/{token}"


def status_token(settings: Settings, plan: Plan) -> str:
    expires = local_moment(plan.end + timedelta(days=STATUS_LINK_DAYS), time(0), plan.zone)
    return tokens.sign(settings.signing_key, "status", {"p": plan.id}, expires.timestamp())


def status_link(settings: Settings, plan: Plan) -> str:
    """The plan's secret status page link (the same link every time for one key)."""
    return f"{_base(settings)}/status/{plan.id}/{status_token(settings, plan)}"


def runbook_link(settings: Settings, plan: Plan) -> str:
    """The plan's runbook as a web page, for readers whose channel carries no attachment.

    The runbook is for every participant, so the link names the plan only; it lasts as
    long as the status page link and, like it, is the same every time for one key.
    """
    expires = local_moment(plan.end + timedelta(days=STATUS_LINK_DAYS), time(0), plan.zone)
    token = tokens.sign(settings.signing_key, "runbook", {"p": plan.id}, expires.timestamp())
    return f"{_base(settings)}/runbook/{plan.id}/{token}"


def privacy_link(settings: Settings, plan: Plan) -> str:
    """The plan's privacy notice (``/privacy/{plan}/{token}``), linked from every message.

    Bound to the plan, with no expiry in the token: the page itself stops answering a
    while after the plan's data is erased, a day it works out from the plan as it stands
    (``worker.kickoff.privacy``). An expiry signed into the token would freeze the
    retention of the day a message went out into that message, so a plan that later
    keeps its data longer would leave older messages with a dead link. One link per plan
    and key, the same in every message.
    """
    token = tokens.sign(settings.signing_key, "privacy", {"p": plan.id})
    return f"{_base(settings)}/privacy/{plan.id}/{token}"


def feed_token(settings: Settings, plan_id: str, person_id: str | None = None) -> str:
    """The secret of one feed: signed, bound to the plan and the person (or the whole plan)."""
    return tokens.sign(settings.signing_key, "feed", {"p": plan_id, "u": person_id or ""})


def feed_url(settings: Settings, plan_id: str, person_id: str | None = None) -> str:
    token = feed_token(settings, plan_id, person_id)
    return f"{_base(settings)}/feeds/{plan_id}/{token}.ics"


def digest(data: bytes) -> str:
    """What a bundle link is bound to: the bundle's own bytes."""
    return hashlib.sha256(data).hexdigest()[:32]


def download_link(settings: Settings, plan_id: str, data: bytes, expires: float) -> str:
    """The link to one handover bundle, valid until ``expires``."""
    token = tokens.sign(
        settings.signing_key, "bundle", {"p": plan_id, "d": digest(data)}, expires=expires
    )
    return f"{_base(settings)}/bundles/{plan_id}/{token}.zip"


# The ledger key (24 lower-case hex digits), a dot and its tag: reply+<key>.<tag>@domain.
_REPLY = re.compile(
    r"^(?P<base>[^+@]+)\+(?P<key>[0-9a-f]{24})\.(?P<tag>[0-9a-f]{16})@(?P<domain>.+)$"
)


def reply_address(settings: Settings, key: str) -> str | None:
    """The address a reply to the message with ledger ``key`` goes to, or None when
    ``PACTKEEPER_REPLY_ADDRESS`` is not set. The key names the plan, the person and what
    the message was about (its ledger item); the tag makes it unforgeable. Lower-case hex
    only, 47 characters before the domain: it survives mail systems that fold case, and
    fits the 64 an address's local part may have (RFC 5321)."""
    if not settings.reply_address:
        return None
    base, _, domain = settings.reply_address.partition("@")
    return f"{base}+{key}.{tokens.tag(settings.signing_key, 'reply', key)}@{domain}"


def reply_key(settings: Settings, address: str) -> str | None:
    """The ledger key an address made by ``reply_address`` names; None for any other."""
    if not settings.reply_address:
        return None
    found = _REPLY.match(address.strip().lower())
    base, _, domain = settings.reply_address.lower().partition("@")
    if found is None or found["base"] != base or found["domain"] != domain:
        return None
    key = found["key"]
    if not tokens.tag_matches(settings.signing_key, "reply", key, found["tag"]):
        return None
    return key
