"""The handover message: the bundle attached (e-mail, under the size limit) and its link.

A draft only (``worker.kinds`` wires it); the bundle itself is kept by ``close.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from config.plan import Person, Plan
from connectors.base import Attachment
from worker import messages
from worker.delivery.draft import Draft
from worker.handover.close import LINK_DAYS, bundle_name, keep_bundle
from worker.kickoff.runbook import successor_name
from worker.links import download_link
from worker.messages import NP_
from worker.store import Item

if TYPE_CHECKING:
    from worker.engine import Engine


LINK = "message link"  # the catalog context of link labels (docs/glossary.md)
LINK_LABEL = NP_("message link", "Download the handover bundle")


def handover_draft(engine: Engine, plan: Plan, item: Item, person: Person, now: float) -> Draft:
    """To a handover recipient: the bundle attached (e-mail, under the limit) and a link."""
    lang = plan.language_of(person)
    at = float(item.data.get("closed", now))
    data = keep_bundle(engine, plan, at).read_bytes()
    expires = now + LINK_DAYS * 86400
    attached = item.channel == "email" and len(data) <= engine.settings.handover_attach_limit
    handover = plan.handover
    successor = successor_name(plan)
    context = {
        "partner": plan.partner.name,
        "team": plan.team.name,
        "end": messages.format_day(plan.end, lang),
        "attached": attached,
        "filename": bundle_name(plan),
        "size": size_words(len(data), lang),
        "expires": messages.format_day(datetime.fromtimestamp(expires, plan.zone_of(person)), lang),
        "handover_when": messages.format_moment(
            handover.at.replace(tzinfo=plan.zone).astimezone(plan.zone_of(person)), lang
        )
        if handover and handover.at.replace(tzinfo=plan.zone).timestamp() > now
        else None,
        "successor": successor,
    }
    attachments = [Attachment(bundle_name(plan), "application/zip", data)] if attached else []
    return Draft(
        "handover",
        context,
        link=download_link(engine.settings, plan.id, data, expires),
        link_label=messages.pgettext_in(lang, LINK, LINK_LABEL),
        attachments=attachments,
    )


def size_words(size: int, lang: str) -> str:
    """1.2 MB, 340 kB, in the reader's number format."""
    from babel.numbers import format_decimal

    if size >= 1_000_000:
        amount, unit = size / 1_000_000, "MB"
    else:
        amount, unit = max(size / 1000, 1), "kB"
    return f"{format_decimal(round(amount, 1), locale=messages.locale(lang))} {unit}"
