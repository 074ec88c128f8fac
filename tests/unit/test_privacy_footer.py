"""Every message ends with the link to the plan's privacy notice, and the runbook has it.

One message of every kind (tests/literal_support.py builds them the engine's way, plus
the notices about what came back: a reply and a declined meeting) is composed for every
channel, and each channel's connector renders it (``render``: no network). The link must
reach the reader whole and as a link in that channel's own markup: the e-mail text part
and the HTML footer, Slack's ``<url|label>``, Teams' and Mattermost's Markdown,
Telegram's ``<a href>``, the SMS and WhatsApp text. The runbook, as the kickoff attaches
it and as its page shows it, has the link too; the one without settings (the command
line, the handover bundle, which holds no secret link) points to the messages instead.
"""

from __future__ import annotations

import email
import email.policy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from config.load import load_plan
from connectors.base import Message
from connectors.email import EmailConnector
from tests.literal_support import COMPOSED, Built, build, connectors
from tests.support import DUTCH, ENGLISH
from worker import links
from worker.delivery.compose import compose
from worker.inbound import notices
from worker.kickoff.privacy import erased_on
from worker.kickoff.runbook import render_runbook
from worker.store import Item

VALUES = {
    "title": "Reading buddies",
    "partner": "Read Together",
    "team": "Northbank",
    "contact": "Maya",
    "lead": "Sam",
    "member": "Ida",
    "meeting_title": "Kick-off",
    "meeting_location": "The library",
    "deadline_title": "Training pack",
    "deliverable": "A pack",
    "acceptance": "Maya signs it off",
    "question": "What did you do?",
    "handover_location": "The school",
    "backup": "The graduate cohort",
    "note": "Busy week",
    "detail": "550 mailbox unavailable",
}
CHANNELS = ("email", "slack", "teams", "mattermost", "telegram", "whatsapp", "sms")
LABEL = {"en": "Privacy", "nl": "Privacy"}


@pytest.fixture(scope="module", params=["en", "nl"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    lang = str(request.param)
    made = build(tmp_path_factory.mktemp(f"footer-{lang}"), VALUES, lang)
    return Built(made.plan, made.engine, made.messages, {**made.items, **_notices(made)})


def _notices(made: Built) -> dict[str, Item]:
    """The notices to the lead about what came back, scheduled the way the inbound side does."""
    plan, engine, ida = made.plan, made.engine, made.plan.person("ida")
    reply = {"case": "unclear", "via": "email", "text": "Fine", "subject": "", "window": "x"}
    when = {"en": "13 January", "nl": "13 januari"}
    declined = {"title": "Kick-off", "when": when, "comment": "", "role": "owner"}
    notices.tell(engine, plan, [plan.lead], ida, "reply_notice", reply, "reply", COMPOSED)
    notices.tell(engine, plan, [plan.lead], ida, "calendar_declined", declined, "cal", COMPOSED)
    found = [i for i in engine.store.items(plan.id) if i.kind == notices.KIND]
    by_template = {str(item.data["template"]): item for item in found}
    return {"reply": by_template["reply_notice"], "calendar": by_template["calendar_declined"]}


def test_every_kind_is_here(built: Built) -> None:
    kinds = {item.kind for item in built.items.values()}
    assert kinds >= {
        "kickoff",
        "reminder",
        "checkin_open",
        "invite",
        "cancel",
        "overdue",
        "notice",
        "warning",
        "handover",
        "inbound_notice",
    }


def _composed(built: Built, name: str, channel: str) -> Message:
    item = built.items[name]
    person = built.plan.person(str(item.recipient))
    return compose(built.engine, built.plan, item, person, channel, COMPOSED)


def _payload(built: Built, message: Message) -> dict[str, Any]:
    connector = connectors(built.engine.settings)[message.channel]
    recipient = replace(message.recipient, phone="+31612345678")  # Twilio needs a number
    _, body = connector.render(replace(message, recipient=recipient))
    found = json.loads(body)
    assert isinstance(found, dict)
    return found


def _linked(channel: str, link: str, label: str) -> str:
    """How the privacy link stands in each channel's payload: whole, and as a link."""
    return {
        "slack": f"<{link}|{label}>",
        "teams": f"[{label}]({link})",
        "mattermost": f"[{label}]({link})",
        "telegram": f'<a href="{link}">{label}</a>',
        "whatsapp": f"{label}: {link}",
        "sms": f"{label}: {link}",
    }[channel]


@pytest.mark.parametrize("channel", CHANNELS)
def test_every_message_of_every_kind_ends_with_the_privacy_link(built: Built, channel: str) -> None:
    plan = built.plan
    link = links.privacy_link(built.engine.settings, plan)
    label = LABEL[plan.language]
    for name in built.items:
        message = _composed(built, name, channel)
        assert message.extra["privacy"] == f"{label}: {link}", name
        if channel == "email":
            assert message.text.endswith(f"\n\n{label}: {link}\n"), name
            assert message.html is not None and f'href="{link}"' in message.html, name
            footer = message.html.rsplit('<p style="margin-top:32px', 1)[1]
            assert f'href="{link}"' in footer, name  # in the footer, not only somewhere
            continue
        payload = json.dumps(_payload(built, message), ensure_ascii=False)
        assert json.dumps(_linked(channel, link, label), ensure_ascii=False)[1:-1] in payload, (
            name,
            payload,
        )


@pytest.mark.parametrize("name", ["kickoff", "checkin_open", "handover", "reminder"])
def test_an_sms_is_its_subject_its_link_and_the_privacy_line(built: Built, name: str) -> None:
    message = _composed(built, name, "sms")
    body = str(_payload(built, message)["Body"])
    link = links.privacy_link(built.engine.settings, built.plan)
    privacy = f"{LABEL[built.plan.language]}: {link}"
    if message.link:
        assert body.split("\n") == [message.subject, message.link, privacy]
    else:
        assert body.rstrip("\n").split("\n")[-1] == privacy
        assert body.count(privacy) == 1


def test_the_email_on_the_wire_carries_the_link_in_both_parts(built: Built) -> None:
    message = _composed(built, "reminder", "email")
    connector = EmailConnector(built.plan.communication.channels.email, built.engine.settings)
    _, raw = connector.render(message)
    parsed = email.message_from_bytes(raw, policy=email.policy.SMTP)
    link = links.privacy_link(built.engine.settings, built.plan)
    text = parsed.get_body(("plain",))
    page = parsed.get_body(("html",))
    assert text is not None and page is not None
    assert text.get_content().splitlines()[-1] == f"{LABEL[built.plan.language]}: {link}"
    assert f'href="{link}"' in page.get_content()


# -- the runbook ----------------------------------------------------------------------


@pytest.mark.parametrize(("path", "heading"), [(DUTCH, "## Privacy"), (ENGLISH, "## Privacy")])
def test_the_runbook_links_the_privacy_notice_when_it_is_given_the_settings(
    built: Built, path: Path, heading: str
) -> None:
    plan = load_plan(path)
    settings = built.engine.settings
    link = links.privacy_link(settings, plan)
    markdown = render_runbook(plan, "md", settings)
    section = markdown.split(heading, 1)[1]
    assert f"<{link}>" in section
    assert plan.partner.name in section and plan.contact.name in section
    day = erased_on(settings, plan)
    assert str(day.year) in section  # the day of erasure, worded
    page = render_runbook(plan, "html", settings)
    assert f'href="{link}"' in page


@pytest.mark.parametrize("path", [DUTCH, ENGLISH])
def test_the_runbook_without_settings_names_who_answers_but_holds_no_link(path: Path) -> None:
    plan = load_plan(path)
    markdown = render_runbook(plan, "md")
    section = markdown.split("## Privacy", 1)[1]
    assert plan.contact.name in section
    assert "/privacy/" not in markdown


def test_the_kickoff_attaches_the_runbook_with_the_privacy_link(built: Built) -> None:
    message = _composed(built, "kickoff", "email")
    (runbook,) = [a for a in message.attachments if a.filename.endswith(".html")]
    link = links.privacy_link(built.engine.settings, built.plan)
    assert f'href="{link}"' in runbook.data.decode()
