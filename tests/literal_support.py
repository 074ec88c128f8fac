"""Messages of every kind, built by the real compose path from a plan whose text is given,
and each channel's rendering of them read back as a person would see it.

``messages(tmp, values, lang)`` writes a plan in which every field that reaches a message
holds ``values[field]``, registers it on a real SQLite store and composes one message of
each kind (the kickoff, reminders, check-in request, invitation and cancellation the
timeline makes; warnings of every template, an overdue deadline, a delivery notice and a
handover built as the engine builds them). ``renderings(message)`` gives what each
channel's connector would send (``render``: no network) and ``shown`` the text a reader
sees in it, after undoing only that channel's documented escaping (docs/channels.md).
``skeleton`` is the markup of a rendering with the words taken out: links, tags, marks.

The imports of ``worker`` stand together in one block: the layout of ``worker/`` is
moving (issue 11), and only these lines follow it.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from config.plan import (
    MattermostChannel,
    Plan,
    SlackChannel,
    TeamsChannel,
    TelegramChannel,
    TwilioChannel,
)
from config.settings import Settings
from connectors.base import Connector, Message
from connectors.markup import BREAK
from connectors.mattermost import MattermostConnector
from connectors.slack import SlackConnector
from connectors.teams import TeamsConnector
from connectors.telegram import TelegramConnector
from connectors.twilio import SmsConnector, WhatsAppConnector
from tests.engine import make_engine, moment
from tests.support import minimal_data, plan_from
from worker.delivery.compose import compose
from worker.engine import Engine
from worker.plans.register import register
from worker.store import Item

BASE_URL = "http://testserver"
REGISTERED = moment("2027-01-01 00:00")
COMPOSED = moment("2027-01-12 10:00")

# Every plan field a message can show, and where it goes in the plan.
FIELDS = (
    "title",
    "partner",
    "team",
    "contact",
    "lead",
    "member",
    "meeting_title",
    "meeting_location",
    "deadline_title",
    "deliverable",
    "acceptance",
    "question",
    "handover_location",
    "backup",
    "note",
    "detail",
)


def plan_data(values: dict[str, str], lang: str) -> dict[str, Any]:
    data = minimal_data()
    data["language"] = lang
    data["title"] = values["title"]
    data["partner"]["name"] = values["partner"]
    data["team"]["name"] = values["team"]
    # The call name (the greeting's) holds the whole value too: a greeting is plan text.
    for person, field in zip(data["people"], ("contact", "lead"), strict=True):
        person["name"] = person["call_name"] = values[field]
    member = values["member"]
    data["people"].append(
        {"id": "ida", "name": member, "call_name": member, "side": "team", "email": "ida@t.example"}
    )
    data["milestones"] = [
        {
            "id": "m1",
            "title": values["meeting_title"],
            "at": "2027-01-13 10:00",
            "duration": "1h",
            "location": values["meeting_location"],
            "owner": "ida",
        },
        {
            "id": "d1",
            "title": values["deadline_title"],
            "due": "2027-01-11",
            "owner": "ida",
            "deliverable": values["deliverable"],
            "acceptance": values["acceptance"],
        },
    ]
    data["checkins"] = {
        "every": "weekly",
        "on": "monday",
        "grace": "1d",
        "who": ["ida"],
        "questions": [values["question"]],
    }
    data["handover"] = {"at": "2027-06-28T10:00", "location": values["handover_location"]}
    data["continuity"] = {"backup": values["backup"], "successor": "pia"}
    return data


@dataclass(frozen=True)
class Built:
    plan: Plan
    engine: Engine
    messages: dict[str, Message]  # by a name for the kind: "reminder", "warning-nudge", ...
    items: dict[str, Item]  # the ledger items they were composed from, by the same names


WARNINGS: dict[str, dict[str, Any]] = {
    "warning-lead": {"template": "lead_warning", "count": 2},
    "warning-dropout": {"template": "dropout_warning", "count": 3, "dropout": True},
    "warning-nudge": {"template": "nudge", "count": 1},
    "warning-help": {"template": "help_request", "trigger": "blocked"},
}
TO = {"warning-nudge": "ida"}  # the nudge goes to the silent person, the others to the lead


def build(tmp: Path, values: dict[str, str], lang: str, handover: bool = True) -> Built:
    """A plan holding ``values``, registered, and one message of every kind composed."""
    plan = plan_from(plan_data(values, lang))
    # Every message of the plan at once: the whole timeline in the ledger, not the
    # coming weeks only (the rolling horizon is tested in tests/unit/test_horizon.py).
    engine = make_engine(tmp, base_url=BASE_URL, horizon_days=0)
    register(engine, plan, REGISTERED)
    items = {item.kind: item for item in engine.store.items(plan.id) if item.recipient}
    reminders = {i.ref: i for i in engine.store.items(plan.id) if i.kind == "reminder"}
    made = {
        "kickoff": items["kickoff"],
        "reminder": reminders["m1"],
        "reminder-handover": reminders["handover"],
        "checkin_open": items["checkin_open"],
        "invite": items["invite"],
        "cancel": replace(items["invite"], kind="cancel", data={**items["invite"].data}),
        "overdue": _item(plan, "overdue", "tim", {"milestone": "d1", "due": "2027-01-11"}),
        "notice": _item(
            plan,
            "notice",
            "tim",
            {
                "person": "ida",
                "about_kind": "reminder",
                "channel": "slack",
                "problem": "channel_failed",
                "detail": values["detail"],
            },
        ),
    }
    made["cancel"].data["reason"] = "removed"
    for name, extra in WARNINGS.items():
        data = {"about": "ida", "window": "2027-01-11", "note": values["note"], "level": 1}
        data["missed"] = ["2027-01-04", "2027-01-11"][: int(extra.get("count", 1)) or 1]
        made[name] = _item(plan, "warning", TO.get(name, "tim"), {**data, **extra})
    if handover:
        made["handover"] = _item(plan, "handover", "pia", {"closed": COMPOSED})
    composed = {
        name: compose(engine, plan, item, plan.person(str(item.recipient)), "email", COMPOSED)
        for name, item in made.items()
    }
    return Built(plan, engine, composed, made)


def _item(plan: Plan, kind: str, recipient: str, data: dict[str, Any]) -> Item:
    key = f"{kind}-{recipient}-{abs(hash(json.dumps(data, sort_keys=True))) % 10**12:012d}"
    return Item(key, plan.id, kind, COMPOSED, recipient=recipient, channel="email", data=data)


# -- the channels -------------------------------------------------------------------------


def connectors(settings: Settings) -> dict[str, Connector]:
    """Each chat channel's connector as a plan configures it (render needs no secret)."""
    chosen = settings.model_copy(update={"twilio_from": "+15005550006"})
    return {
        "slack": SlackConnector(SlackChannel(webhook="env:NONE"), chosen),
        "teams": TeamsConnector(TeamsChannel(webhook="env:NONE"), chosen),
        "mattermost": MattermostConnector(MattermostChannel(webhook="env:NONE"), chosen),
        "telegram": TelegramConnector(TelegramChannel(token="env:NONE", chat_id="-1"), chosen),
        "sms": SmsConnector(TwilioChannel(), chosen),
        "whatsapp": WhatsAppConnector(TwilioChannel(), chosen),
    }


def renderings(message: Message, settings: Settings) -> Iterator[tuple[str, Any]]:
    """(channel, payload) for e-mail (its subject and HTML) and every chat connector."""
    yield "email", {"subject": message.subject, "html": message.html or ""}
    recipient = replace(message.recipient, phone="+31612345678")
    for channel, connector in connectors(settings).items():
        sent = replace(message, channel=channel, recipient=recipient, html=None)
        _, body = connector.render(sent)
        yield channel, json.loads(body)


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.words: list[str] = []
        self.tags: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("href", "src"):
                self.hrefs.append(str(value))

    def handle_endtag(self, tag: str) -> None:
        self.tags.append("/" + tag)

    def handle_data(self, data: str) -> None:
        self.words.append(data)


def read_html(text: str) -> _Html:
    parser = _Html()
    parser.feed(text)
    parser.close()
    return parser


def _commonmark_html(text: str) -> str:
    return str(MarkdownIt("commonmark", {"html": False}).render(text))


def texts(channel: str, payload: Any) -> list[str]:
    """The pieces of text of a payload, as sent (before any decoding)."""
    if channel == "email":
        return [payload["subject"], payload["html"]]
    if channel == "slack":
        return [payload["text"], *_slack_texts(payload["blocks"])]
    if channel == "teams":
        card = payload["attachments"][0]["content"]
        pieces = [block.get("text", "") for block in card["body"] if "text" in block]
        for block in card["body"]:
            for fact in block.get("facts", ()):
                pieces += [fact["title"], fact["value"]]
        return pieces
    if channel == "mattermost":
        return [payload["text"]]
    if channel == "telegram":
        return [payload["text"]]
    return [payload.get("Body", "")]


def _slack_texts(blocks: list[dict[str, Any]], only: str | None = None) -> list[str]:
    """The text objects of Slack blocks; ``only="mrkdwn"``: those Slack reads as mrkdwn."""
    pieces = []
    for block in blocks:
        if "text" in block and only in (None, block["text"]["type"]):
            pieces.append(block["text"]["text"])
        pieces += [field["text"] for field in block.get("fields", ())]
        if only is None:
            pieces += [element["text"]["text"] for element in block.get("elements", ())]
    return pieces


def shown(channel: str, payload: Any) -> str:
    """What the reader sees: each piece with only its channel's documented escaping undone."""
    pieces = texts(channel, payload)
    if channel == "email":
        return pieces[0] + "\n" + "".join(read_html(pieces[1]).words)
    if channel in ("teams", "mattermost"):
        words = ["".join(read_html(_commonmark_html(p)).words) for p in pieces]
        return "\n".join(words).replace(BREAK, "")
    if channel == "telegram":
        return "".join(read_html(pieces[0]).words).replace(BREAK, "")
    if channel == "slack":
        return "\n".join(html.unescape(p.replace(BREAK, "")) for p in pieces)
    return "\n".join(pieces).replace(BREAK, "")


# What each chat service reads as markup in text it is sent (docs/channels.md).
_SLACK_MARKS = re.compile(
    rf"[*~`<>](?!{BREAK})|(?<![0-9A-Za-z])_(?!{BREAK})|_(?![0-9A-Za-z{BREAK}])"
    rf"|(?<![\w@])@(?!{BREAK})(?:here|channel|everyone)\b|:(?!{BREAK})[\w+-]+:",
    re.IGNORECASE,
)
_WHATSAPP_MARKS = re.compile(
    rf"[*~`](?!{BREAK})|(?<![0-9A-Za-z])_(?!{BREAK})|_(?![0-9A-Za-z{BREAK}])|^>(?!{BREAK})",
    re.MULTILINE,
)
_MENTION = re.compile(rf"(?<![\w@])@(?!{BREAK})[\w.-]")
_SHORTCODE = re.compile(rf":(?!{BREAK})[\w+-]+:")


def skeleton(channel: str, payload: Any, own: str | None = None) -> list[str]:
    """The markup of a payload without its words: what must not depend on plan text.

    ``own`` is the message's own link: it stands in the text as it is (its token holds
    underscores and dashes), so it is taken out before the marks are counted.
    """
    pieces = texts(channel, payload)
    if channel == "email":
        parsed = read_html(pieces[1])
        return parsed.tags + [_where(href) for href in parsed.hrefs]
    if channel == "telegram":
        parsed = read_html(pieces[0])
        return parsed.tags + [_where(href) for href in parsed.hrefs]
    if channel in ("teams", "mattermost"):
        marks: list[str] = []
        for piece in pieces:
            marks += _commonmark_skeleton(piece)
            if channel == "mattermost":  # Teams makes no mention or emoji of words
                marks += _MENTION.findall(piece) + _SHORTCODE.findall(piece)
        return marks
    if channel == "slack":  # the header and the button are plain_text: not read as markup
        pieces = [payload["text"], *_slack_texts(payload["blocks"], only="mrkdwn")]
    pieces = [_without(piece, own) for piece in pieces] if own else pieces
    chat = {"slack": _SLACK_MARKS, "whatsapp": _WHATSAPP_MARKS}.get(channel)
    return [found[0] for piece in pieces for found in chat.finditer(piece)] if chat else []


def _without(piece: str, own: str) -> str:
    """``piece`` without the message's own link, whole or cut short by a length limit."""
    piece = piece.replace(own, "LINK")
    # A cut link may end any line (a limit cuts the body; the facts follow it).
    for cut in reversed(list(re.finditer(r"\S+…$", piece, re.M))):
        if own.startswith(cut[0][:-1]):
            piece = piece[: cut.start()] + "LINK…" + piece[cut.end() :]
    return piece


def _commonmark_skeleton(text: str) -> list[str]:
    marks = []
    for token in MarkdownIt("commonmark", {"html": False}).parse(text):
        marks.append(token.type)
        for child in token.children or ():
            if child.type not in ("text", "softbreak"):
                address = child.attrGet("href") or child.attrGet("src") or ""
                marks.append(child.type + _where(str(address)))
    return marks


def _where(address: str) -> str:
    """A link reduced to where it points: pactkeeper's own, or elsewhere (never allowed)."""
    if not address:
        return ""
    return " -> pactkeeper" if address.startswith(BASE_URL + "/") else f" -> {address}"
