"""From a ledger item to a message a person reads, in their language.

Each kind has a draft function (named in ``worker.kinds``) that gathers the facts and
names a template; the template holds the sentences. A template has two blocks,
``subject`` and ``body`` (Markdown): chat channels get the Markdown, e-mail gets it as
text and as HTML in ``email.html.j2``.

Every message, whatever its kind and channel, is finished here (``finished_text``): its
last line is the link to the plan's privacy notice, and the e-mail footer links it too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from config.plan import Person, Plan
from connectors.base import Message, Recipient
from worker import kinds, links, messages
from worker.delivery.channels import session_open
from worker.delivery.draft import Draft
from worker.inbound import telegram
from worker.messages.words import label, md, privacy_link_label
from worker.store import Item

if TYPE_CHECKING:
    from worker.engine import Engine


def recipient(plan: Plan, person: Person) -> Recipient:
    return Recipient(
        person.id,
        person.name,
        person.email,
        person.phone,
        plan.language_of(person),
        plan.zone_of(person).key,
    )


def compose(
    engine: Engine, plan: Plan, item: Item, person: Person, channel: str, now: float
) -> Message:
    lang = plan.language_of(person)
    draft = kinds.drafter_for(item.kind)(engine, plan, item, person, now)
    values = {
        "person": person,
        "plan": plan,
        "plan_title": plan.title,
        "channel": channel,  # a template words what only some channels carry (attachments)
        **draft.context,
    }
    subject, body = render_parts(draft.template, lang, **values)
    privacy = links.privacy_link(engine.settings, plan)
    html = None
    if channel == "email":
        html = messages.render(
            "email.html.j2",
            lang,
            subject=subject,
            body_html=messages.to_html(body),
            link=draft.link,
            link_label=draft.link_label,
            footer=label(lang, "footer").format(title=plan.title),
            privacy=privacy,
            privacy_label=label(lang, "privacy"),
        )
    text = finished_text(body, draft, lang, channel, privacy)
    return Message(
        key=item.key,
        plan_id=plan.id,
        kind=_message_kind(item),
        channel=channel,
        recipient=recipient(plan, person),
        subject=subject,
        text=text,
        html=html,
        link=draft.link,
        link_label=draft.link_label,
        facts=tuple(draft.facts),
        attachments=tuple(draft.attachments),
        calendar=draft.calendar,
        when=datetime.fromtimestamp(now, UTC),
        extra={
            **_extra(engine, item, person, channel, draft.template, lang, now),
            "privacy": f"{privacy_link_label(lang)}: {privacy}",
        },
    )


def finished_text(body: str, draft: Draft, lang: str, channel: str, privacy: str) -> str:
    """The text as every message ends: the body, the message's own link, and last the
    link to the privacy notice, one short line (``Privacy: URL``).

    E-mail's text part shows that line as it is written. On every other channel it is a
    Markdown link, so each connector writes it in its own markup: a bare address in the
    text would be escaped there like any plan text (and broken by Slack's ``_``). SMS
    sends only the subject and the link when a message has one; it adds
    ``extra["privacy"]``, the same line in plain words (``connectors/twilio.py``).
    """
    text = body if draft.link is None else f"{body}\n{draft.link_label}: {draft.link}\n"
    word = privacy_link_label(lang)
    line = f"{word}: {privacy}" if channel == "email" else f"[{md(word, inline=True)}]({privacy})"
    return f"{text.rstrip()}\n\n{line}\n"


def _extra(
    engine: Engine,
    item: Item,
    person: Person,
    channel: str,
    template: str,
    lang: str,
    now: float,
) -> dict[str, Any]:
    """What only some connectors use: where a reply goes, whether WhatsApp's session is
    open, a check-in request's buttons on Telegram."""
    extra: dict[str, Any] = {"template": template}
    if channel == "email":
        address = links.reply_address(engine.settings, item.key)
        if address is not None:
            extra["reply_to"] = address
    elif channel == "whatsapp":
        extra["session"] = session_open(engine, person, now)
    elif channel == "telegram" and item.kind == "checkin_open":
        # The four answers as buttons, signed: a press answers this request's window.
        extra["buttons"] = telegram.buttons(engine.settings, item.key, lang)
    return extra


def _message_kind(item: Item) -> str:
    return "checkin_request" if item.kind == "checkin_open" else item.kind


def render_parts(template: str, lang: str, **context: Any) -> tuple[str, str]:
    """The ``subject`` and ``body`` blocks of ``templates/<template>.md.j2`` in ``lang``.

    Every value is shown as text (``messages.markdown_environment``): plain in the
    subject, escaped Markdown in the body, so plan text never becomes a link.
    ``channel`` in the context lets a template word a text for that channel.
    """
    return messages.render_parts(template, lang, **context)


def _block(template: str, lang: str, name: str, plain: bool, context: dict[str, Any]) -> str:
    return messages.render_block(template, lang, name, plain, context)
