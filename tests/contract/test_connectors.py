"""One contract for every HTTP connector, against a real local server (tests/http_sink.py).

The matrix: each connector x each server answer (success, 400, 403, 404, 410, 429
with Retry-After in seconds and as an HTTP date, 500, 503, an answer slower than
the read timeout, a refused connection) must end in the kind of error
docs/architecture.md §6 promises, and no secret may show in the error, its chain, a log record
(urllib3, requests and root at DEBUG) or the rendered payload. Then each
service's payload as the server received it, each service's own error bodies,
readiness, and the webhook signature checked with the receiver in docs/webhook.md.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from config.plan import (
    AppriseChannel,
    MattermostChannel,
    SlackChannel,
    TeamsChannel,
    TelegramChannel,
    TwilioChannel,
    WebhookChannel,
)
from config.settings import Settings
from connectors import markup, registry
from connectors.apprise import NOT_INSTALLED, AppriseConnector
from connectors.base import Connector, ConnectorError, Message, Recipient
from connectors.mattermost import MattermostConnector
from connectors.outbox import OutboxConnector
from connectors.slack import SlackConnector
from connectors.teams import TeamsConnector
from connectors.telegram import TelegramConnector
from connectors.twilio import SmsConnector, WhatsAppConnector
from connectors.webhook import WebhookConnector
from tests.http_sink import SinkProcess, refusing_url, start_sink

ROOT = Path(__file__).resolve().parents[2]

# Unique strings that must never leave through an error, a log line or the outbox.
SLACK_SECRET = "SLACKhookSECRET7f3k"
TEAMS_SIG = "TEAMSsigSECRET2m9q"
MM_SECRET = "MMhookSECRET5t8w"
TG_TOKEN = "7012345678:TGtokenSECRETz3m4"
TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_TOKEN = "TWauthSECRET8r6y"
HMAC_SECRET = "HMACsecret4d1vXY"
BASIC_AUTH = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
SECRETS = (
    SLACK_SECRET,
    TEAMS_SIG,
    MM_SECRET,
    TG_TOKEN,
    TG_TOKEN.split(":")[1],
    TWILIO_TOKEN,
    BASIC_AUTH,
    HMAC_SECRET,
)
CONTENT_SID = "HX0123456789abcdef0123456789abcdef"
READ_TIMEOUT = 0.3
SLOW = 1.5  # seconds the sink waits before a "slow" answer: beyond READ_TIMEOUT


def wire(monkeypatch: pytest.MonkeyPatch, base: str) -> Settings:
    """Point every connector at ``base``: secrets in the environment, API roots in Settings."""
    monkeypatch.setenv("ACME_SLACK_WEBHOOK", f"{base}/services/T000/B000/{SLACK_SECRET}")
    monkeypatch.setenv(
        "ACME_TEAMS_WEBHOOK",
        f"{base}/workflows/7a1b/triggers/manual/paths/invoke?api-version=1&sig={TEAMS_SIG}",
    )
    monkeypatch.setenv("MM_WEBHOOK", f"{base}/hooks/{MM_SECRET}")
    monkeypatch.setenv("TELEGRAM_TOKEN", TG_TOKEN)
    monkeypatch.setenv("HOOK_SECRET", HMAC_SECRET)
    monkeypatch.setenv("APPRISE_URL", f"json://127.0.0.1/{SLACK_SECRET}")
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_api_url=base,
        twilio_api_url=base,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,  # type: ignore[arg-type]
        twilio_from="+15005550006",
        twilio_whatsapp_from="+14155238886",
        twilio_content_sids={"checkin_request": CONTENT_SID},
        http_connect_timeout=1.0,
        http_read_timeout=READ_TIMEOUT,
    )


@dataclass(frozen=True)
class Case:
    """A connector as configured in a plan, and how its service says yes."""

    name: str
    build: Callable[[Settings, str], Connector]
    ok_status: int
    ok_body: Any
    kind: str = "reminder"


CASES = [
    Case(
        "slack",
        lambda s, base: SlackConnector(
            SlackChannel(webhook="env:ACME_SLACK_WEBHOOK", channel="#partners"), s
        ),
        200,
        "ok",
    ),
    Case(
        "teams",
        lambda s, base: TeamsConnector(TeamsChannel(webhook="env:ACME_TEAMS_WEBHOOK"), s),
        202,
        "",
    ),
    Case(
        "mattermost",
        lambda s, base: MattermostConnector(
            MattermostChannel(webhook="env:MM_WEBHOOK", channel="partners", username="pactkeeper"),
            s,
        ),
        200,
        "ok",
    ),
    Case(
        "telegram",
        lambda s, base: TelegramConnector(
            TelegramChannel(token="env:TELEGRAM_TOKEN", chat_id="-1001234"), s
        ),
        200,
        {"ok": True, "result": {"message_id": 42}},
    ),
    Case("sms", lambda s, base: SmsConnector(TwilioChannel(), s), 201, {"sid": "SM1"}),
    Case("whatsapp", lambda s, base: WhatsAppConnector(TwilioChannel(), s), 201, {"sid": "SM2"}),
    Case(
        "whatsapp-template",
        lambda s, base: WhatsAppConnector(TwilioChannel(), s),
        201,
        {"sid": "SM3"},
        kind="checkin_request",
    ),
    Case(
        "webhook",
        lambda s, base: WebhookConnector(
            WebhookChannel(url=f"{base}/pactkeeper/hook", secret="env:HOOK_SECRET"), s
        ),
        200,
        "",
    ),
]
BY_NAME = {case.name: case for case in CASES}


@dataclass(frozen=True)
class Answer:
    """What the server does, and the outcome the connector must report."""

    name: str
    kind: str | None  # None: sent
    status: int = 0  # 0: the service's own success answer
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    delay: float = 0.0
    refused: bool = False
    retry_after: tuple[float, float] | None = None  # the range the error must carry
    date_after: float | None = None  # Retry-After as an HTTP date this far ahead


ANSWERS = [
    Answer("success", None),
    Answer("400", "permanent", 400, body="invalid_payload"),
    Answer("403", "permanent", 403, body="action_prohibited"),
    Answer("404", "permanent", 404, body="no_service"),
    Answer("410", "permanent", 410, body="channel_is_archived"),
    Answer(
        "429-seconds", "transient", 429, {"Retry-After": "7"}, "rate_limited", retry_after=(7, 7)
    ),
    Answer(
        "429-date", "transient", 429, body="rate_limited", retry_after=(100, 120), date_after=120
    ),
    Answer("500", "transient", 500, body="oops"),
    Answer("503-retry-after", "transient", 503, {"Retry-After": "30"}, retry_after=(30, 30)),
    Answer("slow", "unknown", delay=SLOW),
    Answer("refused", "transient", refused=True),
]


def message(channel: str, kind: str = "reminder", **changes: Any) -> Message:
    fields: dict[str, Any] = {
        "key": "k7f3a9c0d2e1",
        "plan_id": "voedselbank-aanmelden",
        "kind": kind,
        "channel": channel,
        "recipient": Recipient(id="ana", name="Ana de Vries", phone="+31612345678", language="nl"),
        "subject": "Intakegesprek morgen <10:00> & koffie",
        "text": "Beste Ana,\nmorgen om 10:00 is het intakegesprek.\nTot dan — Brám",
        "link": "https://pactkeeper.example/checkin/ana?t=abc&x=1",
        "link_label": "Inchecken",
        "facts": (("Waar", "Utrecht"), ("Wanneer", "ma 11 jan 10:00")),
        "when": datetime(2027, 1, 10, 9, 0, tzinfo=UTC),
    }
    return Message(**(fields | changes))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SinkProcess]:
    sink = start_sink(tmp_path_factory.mktemp("http_sink"))
    yield sink
    sink.stop()


@dataclass
class Wire:
    """The sink with an empty script, and what arrived since this test began."""

    sink: SinkProcess
    start: int

    @property
    def url(self) -> str:
        return self.sink.url

    def arrived(self) -> list[dict[str, Any]]:
        return self.sink.requests()[self.start :]


@pytest.fixture
def sink(server: SinkProcess) -> Wire:
    server.reset()
    return Wire(server, len(server.requests()))


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in (None, "urllib3", "requests"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def attempt(connector: Connector, note: Message) -> ConnectorError | None:
    try:
        connector.send(note)
    except ConnectorError as error:
        return error
    return None


def exposed(error: BaseException | None, caplog: pytest.LogCaptureFixture, *more: str) -> str:
    """Every text a secret could leak into: the error and its whole chain, logs, more."""
    texts = [caplog.text, *(record.getMessage() for record in caplog.records), *more]
    if error is not None:
        texts += traceback.format_exception(error)
        link: BaseException | None = error
        while link is not None:  # also the links a traceback would hide
            texts += [str(link), repr(link), *map(str, link.args)]
            link = link.__cause__ or link.__context__
    return "\n".join(texts)


def assert_no_secret(text: str) -> None:
    leaked = [secret for secret in SECRETS if secret in text]
    assert not leaked, f"secrets leaked: {leaked}"


def deliver(
    name: str, sink: Wire, monkeypatch: pytest.MonkeyPatch, **changes: Any
) -> tuple[Connector, Message, dict[str, Any]]:
    """Send the standard message on one case; return what the sink received."""
    case = BY_NAME[name]
    connector = case.build(wire(monkeypatch, sink.url), sink.url)
    note = message(connector.channel, case.kind, **changes)
    connector.send(note)
    (request,) = sink.arrived()
    return connector, note, request


# -- the matrix -------------------------------------------------------------------


@pytest.mark.parametrize("answer", ANSWERS, ids=lambda a: a.name)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_answer_is_classified_and_no_secret_leaks(
    case: Case,
    answer: Answer,
    sink: Wire,
    logs: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if answer.status:
        headers = dict(answer.headers)
        if answer.date_after:
            headers["Retry-After"] = formatdate(time.time() + answer.date_after, usegmt=True)
        sink.sink.script(answer.status, headers=headers, body=answer.body, times=1)
    elif not answer.refused:
        sink.sink.script(case.ok_status, body=case.ok_body, delay=answer.delay, times=1)

    with refusing_url() as nowhere:
        base = nowhere if answer.refused else sink.url
        connector = case.build(wire(monkeypatch, base), base)
        note = message(connector.channel, case.kind)
        started = time.monotonic()
        error = attempt(connector, note)
        took = time.monotonic() - started

    if answer.kind is None:
        assert error is None
        # The request line is what carries the secret path: it was logged, hidden.
        assert any("POST /" in r.getMessage() for r in logs.records if r.name.startswith("urllib3"))
    else:
        assert error is not None
        assert error.kind == answer.kind, str(error)
        if answer.retry_after is None:
            assert error.retry_after is None
        else:
            low, high = answer.retry_after
            assert error.retry_after is not None
            assert low <= error.retry_after <= high
        # Only "too fast" narrows the destination's pace (worker/delivery/pacing.py).
        assert error.throttled == (answer.status == 429)
    assert len(sink.arrived()) == (0 if answer.refused else 1)
    if answer.delay:
        assert took < SLOW  # gave up at the read timeout, did not wait for the answer
    assert_no_secret(exposed(error, logs, connector.render(note)[1].decode("utf-8")))


# -- what each service limits (pacing, config/pacing.py) --------------------------

DESTINATIONS = {
    "slack": ["slack"],
    "teams": ["teams"],
    "mattermost": ["mattermost"],
    "telegram": ["telegram_group", "telegram_bot"],  # -1001234: a group's chat id
    "sms": ["sms"],
    "whatsapp": ["whatsapp"],
    "whatsapp-template": ["whatsapp"],
    "webhook": ["webhook"],
}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_connector_names_what_it_sends_to(
    case: Case, sink: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = case.build(wire(monkeypatch, sink.url), sink.url)
    found = connector.destinations(message(connector.channel, case.kind))
    assert [d.rule for d in found] == DESTINATIONS[case.name]
    # The same bucket for every message to the same place, and no secret in its name.
    assert connector.destinations(message(connector.channel, "warning")) == found
    assert_no_secret(" ".join(d.bucket for d in found))
    assert not any(sink.url in d.bucket or "+1" in d.bucket for d in found)


def test_destinations_tell_chats_numbers_and_webhooks_apart(
    sink: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = wire(monkeypatch, sink.url)
    note = message("telegram")
    group = TelegramConnector(
        TelegramChannel(token="env:TELEGRAM_TOKEN", chat_id="-1001"), settings
    )
    person = TelegramConnector(
        TelegramChannel(token="env:TELEGRAM_TOKEN", chat_id="4242"), settings
    )
    (group_chat, group_bot), (person_chat, person_bot) = (
        group.destinations(note),
        person.destinations(note),
    )
    assert person_chat.rule == "telegram_chat" and group_chat.bucket != person_chat.bucket
    assert group_bot == person_bot  # one bot, one limit of 30 a second
    sms = SmsConnector(TwilioChannel(), settings).destinations(message("sms"))
    whatsapp = WhatsAppConnector(TwilioChannel(), settings).destinations(message("whatsapp"))
    assert sms[0].bucket != whatsapp[0].bucket  # two senders
    monkeypatch.setenv("OTHER_SLACK_WEBHOOK", f"{sink.url}/services/T000/B001/other")
    slack = SlackConnector(SlackChannel(webhook="env:ACME_SLACK_WEBHOOK"), settings)
    other = SlackConnector(SlackChannel(webhook="env:OTHER_SLACK_WEBHOOK"), settings)
    assert slack.destinations(note) != other.destinations(note)


def test_apprise_and_the_outbox_name_no_destination(tmp_path: Path) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    apprise = AppriseConnector(AppriseChannel(url="env:APPRISE_URL"), settings)
    assert apprise.destinations(message("apprise")) == []
    slack = SlackConnector(SlackChannel(webhook="env:ACME_SLACK_WEBHOOK"), settings)
    assert OutboxConnector(slack, tmp_path).destinations(message("slack")) == []


# -- what each service receives ----------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_render_is_exactly_what_goes_over_the_wire(
    case: Case, sink: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector, note, request = deliver(case.name, sink, monkeypatch)
    extension, rendered = connector.render(note)
    assert extension == "json"
    if isinstance(connector, SmsConnector | WhatsAppConnector):
        form = {k: v[0] for k, v in parse_qs(request["body"], strict_parsing=True).items()}
        assert json.loads(rendered) == form
        assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    elif isinstance(connector, WebhookConnector):
        # The webhook's sent_at is the engine's time, so even it renders byte for byte.
        assert rendered.decode("utf-8") == request["body"]
    else:
        assert rendered.decode("utf-8") == request["body"]
        assert request["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert request["method"] == "POST"


def test_slack_blocks(sink: Wire, monkeypatch: pytest.MonkeyPatch) -> None:
    _, note, request = deliver("slack", sink, monkeypatch)
    assert request["path"] == f"/services/T000/B000/{SLACK_SECRET}"
    payload = json.loads(request["body"])
    assert payload["channel"] == "#partners"
    assert payload["text"] == "Intakegesprek morgen &lt;10:00&gt; &amp; koffie"
    header, section, facts, actions = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": note.subject, "emoji": False},
    }
    assert section["text"]["type"] == "mrkdwn"
    assert section["text"]["text"] == note.text  # plain words: nothing to change in mrkdwn
    assert [f["text"] for f in facts["fields"]] == ["*Waar*\nUtrecht", "*Wanneer*\nma 11 jan 10:00"]
    (button,) = actions["elements"]
    assert button == {
        "type": "button",
        "text": {"type": "plain_text", "text": "Inchecken", "emoji": False},
        "url": note.link,
    }


def test_slack_without_link_facts_or_channel(sink: Wire, monkeypatch: pytest.MonkeyPatch) -> None:
    connector = SlackConnector(
        SlackChannel(webhook="env:ACME_SLACK_WEBHOOK"), wire(monkeypatch, sink.url)
    )
    payload = json.loads(connector.render(message("slack", link=None, facts=()))[1])
    assert [block["type"] for block in payload["blocks"]] == ["header", "section"]
    assert "channel" not in payload


def test_teams_adaptive_card(sink: Wire, monkeypatch: pytest.MonkeyPatch) -> None:
    _, note, request = deliver("teams", sink, monkeypatch)
    assert request["path"].endswith(f"&sig={TEAMS_SIG}")
    payload = json.loads(request["body"])
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    title, text, facts = card["body"]
    assert (title["type"], title["text"], title["wrap"]) == (
        "TextBlock",
        r"Intakegesprek morgen \<10:00> & koffie",
        True,
    )
    assert (text["type"], text["text"]) == ("TextBlock", note.text)
    assert facts == {
        "type": "FactSet",
        "facts": [
            {"title": "Waar", "value": "Utrecht"},
            {"title": "Wanneer", "value": "ma 11 jan 10:00"},
        ],
    }
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Inchecken", "url": note.link}]


def test_mattermost_markdown(sink: Wire, monkeypatch: pytest.MonkeyPatch) -> None:
    _, note, request = deliver("mattermost", sink, monkeypatch)
    assert request["path"] == f"/hooks/{MM_SECRET}"
    payload = json.loads(request["body"])
    assert payload["channel"] == "partners"
    assert payload["username"] == "pactkeeper"
    subject = r"Intakegesprek morgen \<10:00> & koffie"
    assert payload["text"].startswith(f"#### {subject}\n\n{note.text}\n")
    assert "- **Waar:** Utrecht" in payload["text"]
    assert payload["text"].endswith(f"[Inchecken]({note.link})")


def test_plan_text_in_mattermost_and_teams_titles_and_facts_never_becomes_a_link(
    sink: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Markdown injection: a subject or a fact from the plan is shown as written, not as markup."""
    hostile = "[Join here](https://phish.example/login) ![x](https://tracker.example/p.gif)"
    changes = {"subject": f"Kick-off {hostile}", "facts": (("Waar", hostile),)}
    _, _, request = deliver("mattermost", sink, monkeypatch, **changes)
    text = json.loads(request["body"])["text"]
    assert "[Join here](" not in text and "![x](" not in text
    assert r"\[Join here\](https://phish.example/login)" in text
    sink.start = len(sink.sink.requests())
    _, _, request = deliver("teams", sink, monkeypatch, **changes)
    card = json.loads(request["body"])["attachments"][0]["content"]
    title, facts = card["body"][0]["text"], card["body"][2]["facts"]
    for shown in (title, facts[0]["value"]):
        assert "[Join here](" not in shown and r"\[Join here\]" in shown


def test_telegram_send_message(sink: Wire, monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, request = deliver("telegram", sink, monkeypatch)
    assert request["path"] == f"/bot{TG_TOKEN}/sendMessage"
    payload = json.loads(request["body"])
    assert payload["chat_id"] == "-1001234"
    assert payload["parse_mode"] == "HTML"
    assert payload["disable_web_page_preview"] is True
    text = payload["text"]
    assert text.startswith("<b>Intakegesprek morgen &lt;10:00&gt; &amp; koffie</b>\n\n")
    assert "<b>Waar:</b> Utrecht" in text
    assert text.endswith(
        '<a href="https://pactkeeper.example/checkin/ana?t=abc&amp;x=1">Inchecken</a>'
    )
    # Only the tags pactkeeper wrote: every other < and > arrived escaped.
    assert set(re.findall(r"</?([a-z]+)", text)) == {"b", "a"}


def _form(request: dict[str, Any]) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request["body"], strict_parsing=True).items()}


def test_twilio_sms(sink: Wire, monkeypatch: pytest.MonkeyPatch) -> None:
    _, note, request = deliver("sms", sink, monkeypatch)
    assert request["path"] == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    assert request["headers"]["Authorization"] == f"Basic {BASIC_AUTH}"
    assert _form(request) == {
        "To": "+31612345678",
        "From": "+15005550006",
        "Body": f"{note.subject}\n{note.link}",
    }


def test_twilio_sms_is_cut_to_1600_characters_with_the_link_whole(
    sink: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, note, request = deliver("sms", sink, monkeypatch, subject="Lang " * 500)
    body = _form(request)["Body"]
    assert len(body) <= 1600
    assert body.endswith(f"…\n{note.link}")


def test_twilio_sms_without_a_link_carries_the_text(
    sink: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, note, request = deliver("sms", sink, monkeypatch, link=None)
    assert _form(request)["Body"] == f"{note.subject}\n\n{note.text}"


def test_twilio_whatsapp_free_form(sink: Wire, monkeypatch: pytest.MonkeyPatch) -> None:
    _, note, request = deliver("whatsapp", sink, monkeypatch)
    form = _form(request)
    assert form["To"] == "whatsapp:+31612345678"
    assert form["From"] == "whatsapp:+14155238886"
    assert form["Body"].startswith(f"*{note.subject}*\n\n{note.text}\nWaar: Utrecht")
    assert form["Body"].endswith(f"\n{note.link}")
    assert "ContentSid" not in form


def test_twilio_whatsapp_template_outside_the_window(
    sink: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, note, request = deliver(
        "whatsapp-template", sink, monkeypatch, subject="Check-in\nvan  deze week"
    )
    form = _form(request)
    assert form["To"] == "whatsapp:+31612345678"
    assert form["From"] == "whatsapp:+14155238886"
    assert form["ContentSid"] == CONTENT_SID
    assert json.loads(form["ContentVariables"]) == {
        "1": "Ana de Vries",
        "2": "Check-in van deze week",  # WhatsApp refuses new lines and runs of spaces
        "3": note.link,
    }
    assert "Body" not in form


def _docs_receiver() -> dict[str, Any]:
    """The receiver example of docs/webhook.md, run as it stands there."""
    text = (ROOT / "docs" / "webhook.md").read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    namespace: dict[str, Any] = {"__name__": "docs_webhook"}
    exec(compile(code, "docs/webhook.md", "exec"), namespace)
    return namespace


def test_webhook_payload_and_signature_verify_with_the_documented_receiver(
    sink: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, note, request = deliver("webhook", sink, monkeypatch)
    assert request["path"] == "/pactkeeper/hook"
    headers, body = request["headers"], request["body"].encode("utf-8")
    assert headers["Idempotency-Key"] == note.key
    assert abs(int(headers["X-Pactkeeper-Timestamp"]) - time.time()) < 60
    assert json.loads(body) == {
        "plan": "voedselbank-aanmelden",
        "kind": "reminder",
        "key": note.key,
        "recipient": {"id": "ana", "name": "Ana de Vries"},
        "subject": note.subject,
        "text": note.text,
        "link": note.link,
        "facts": [
            {"label": "Waar", "value": "Utrecht"},
            {"label": "Wanneer", "value": "ma 11 jan 10:00"},
        ],
        "sent_at": "2027-01-10T09:00:00Z",
    }
    verify = _docs_receiver()["verify"]
    stamp, signed = headers["X-Pactkeeper-Timestamp"], headers["X-Pactkeeper-Signature"]
    assert signed.startswith("sha256=")
    assert verify(HMAC_SECRET.encode(), stamp, signed, body) is True
    assert verify(b"another secret", stamp, signed, body) is False
    assert verify(HMAC_SECRET.encode(), stamp, signed, body.replace(b"Ana", b"Bob")) is False
    assert verify(HMAC_SECRET.encode(), stamp, signed, body, now=int(stamp) + 600) is False


def test_webhook_repeats_carry_the_same_idempotency_key(
    sink: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector, note, first = deliver("webhook", sink, monkeypatch)
    connector.send(note)
    second = sink.arrived()[1]
    assert first["headers"]["Idempotency-Key"] == second["headers"]["Idempotency-Key"] == note.key
    assert first["body"] == second["body"]


def test_webhook_without_a_secret_goes_unsigned(
    sink: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = wire(monkeypatch, sink.url)
    connector = WebhookConnector(WebhookChannel(url=f"{sink.url}/open"), settings)
    assert connector.unready() is None
    connector.send(message("webhook"))
    (request,) = sink.arrived()
    assert "X-Pactkeeper-Signature" not in request["headers"]
    assert request["headers"]["Idempotency-Key"] == "k7f3a9c0d2e1"


# -- each service's own error bodies --------------------------------------------------

TELEGRAM_BLOCKED = {
    "ok": False,
    "error_code": 403,
    "description": "Forbidden: bot was blocked by the user",
}
TELEGRAM_FLOOD = {
    "ok": False,
    "error_code": 429,
    "description": "Too Many Requests: retry after 17",
    "parameters": {"retry_after": 17},
}
TELEGRAM_MIGRATED = {
    "ok": False,
    "error_code": 400,
    "description": "Bad Request: group chat was upgraded to a supergroup chat",
    "parameters": {"migrate_to_chat_id": -1009876},
}


def _twilio(code: int, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": "The 'To' number +31612345678 is not a valid phone number.",
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


SERVICE_ERRORS = [
    # case, status, headers, body, kind, text the error must name, retry_after
    ("slack", 404, {}, "no_service", "permanent", "no_service", None),
    ("slack", 404, {}, "channel_not_found", "permanent", "channel_not_found", None),
    ("slack", 410, {}, "channel_is_archived", "permanent", "channel_is_archived", None),
    ("teams", 400, {}, "Bad Request", "permanent", "HTTP 400", None),
    ("mattermost", 403, {}, "webhook channel locked", "permanent", "locked", None),
    ("telegram", 403, {}, TELEGRAM_BLOCKED, "permanent", "bot was blocked by the user", None),
    ("telegram", 429, {}, TELEGRAM_FLOOD, "transient", "429", 17.0),
    ("telegram", 429, {"Retry-After": "5"}, TELEGRAM_FLOOD, "transient", "429", 5.0),
    ("telegram", 400, {}, TELEGRAM_MIGRATED, "permanent", "-1009876", None),
    (
        "telegram",
        401,
        {},
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
        "permanent",
        "Unauthorized",
        None,
    ),
    ("sms", 400, {}, _twilio(21211, 400), "permanent", "21211", None),
    ("sms", 400, {}, _twilio(21610, 400), "permanent", "21610", None),
    ("sms", 401, {}, _twilio(20003, 401), "permanent", "20003", None),
    ("sms", 429, {"Retry-After": "4"}, _twilio(20429, 429), "transient", "20429", 4.0),
    ("sms", 400, {}, _twilio(99999, 400), "permanent", "error 99999", None),
    ("whatsapp", 400, {}, _twilio(63016, 400), "permanent", "Content template", None),
    ("whatsapp", 500, {}, _twilio(20500, 500), "transient", "HTTP 500", None),
]


@pytest.mark.parametrize(
    ("name", "status", "headers", "body", "kind", "named", "retry_after"),
    SERVICE_ERRORS,
    ids=[f"{row[0]}-{row[1]}-{row[5]}" for row in SERVICE_ERRORS],
)
def test_service_error_bodies(
    name: str,
    status: int,
    headers: dict[str, str],
    body: Any,
    kind: str,
    named: str,
    retry_after: float | None,
    sink: Wire,
    logs: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink.sink.script(status, headers=headers, body=body, times=1)
    case = BY_NAME[name]
    connector = case.build(wire(monkeypatch, sink.url), sink.url)
    error = attempt(connector, message(connector.channel, case.kind))
    assert error is not None
    assert (error.kind, error.retry_after) == (kind, retry_after)
    assert named in str(error)
    assert "+31612345678" not in str(error)  # Twilio's text quotes the number: not ours
    assert_no_secret(exposed(error, logs))


# -- readiness ---------------------------------------------------------------------

ENV_SECRETS = [
    ("slack", "ACME_SLACK_WEBHOOK"),
    ("teams", "ACME_TEAMS_WEBHOOK"),
    ("mattermost", "MM_WEBHOOK"),
    ("telegram", "TELEGRAM_TOKEN"),
    ("webhook", "HOOK_SECRET"),
]


@pytest.mark.parametrize(("name", "variable"), ENV_SECRETS)
def test_unready_until_the_secret_is_set(
    name: str, variable: str, sink: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = wire(monkeypatch, sink.url)
    connector = BY_NAME[name].build(settings, sink.url)
    assert connector.unready() is None
    monkeypatch.delenv(variable)
    reason = connector.unready()
    assert reason is not None
    assert variable in reason
    # Sending anyway (the secret vanished after start-up) is a permanent error, not a crash.
    error = attempt(connector, message(connector.channel))
    assert error is not None
    assert error.kind == "permanent"
    assert variable in str(error)
    assert sink.arrived() == []


@pytest.mark.parametrize(("name", "variable"), ENV_SECRETS)
def test_secret_from_a_file(
    name: str, variable: str, sink: Wire, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = wire(monkeypatch, sink.url)
    path = tmp_path / "secret"
    path.write_text(f"{__import__('os').environ[variable]}\n", encoding="utf-8")
    monkeypatch.delenv(variable)
    monkeypatch.setenv(f"{variable}_FILE", str(path))
    connector = BY_NAME[name].build(settings, sink.url)
    assert connector.unready() is None
    connector.send(message(connector.channel))
    assert len(sink.arrived()) == 1


@pytest.mark.parametrize(
    ("setting", "channel"),
    [
        ("twilio_account_sid", "sms"),
        ("twilio_auth_token", "sms"),
        ("twilio_from", "sms"),
        ("twilio_whatsapp_from", "whatsapp"),
    ],
)
def test_twilio_unready_names_the_missing_setting(
    setting: str, channel: str, sink: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = wire(monkeypatch, sink.url).model_copy(update={setting: None})
    connector = BY_NAME[channel].build(settings, sink.url)
    reason = connector.unready()
    assert reason == f"PACTKEEPER_{setting.upper()} not set"
    error = attempt(connector, message(channel))
    assert error is not None
    assert error.kind == "permanent"
    assert sink.arrived() == []


def test_twilio_needs_a_phone_number(sink: Wire, monkeypatch: pytest.MonkeyPatch) -> None:
    connector = BY_NAME["sms"].build(wire(monkeypatch, sink.url), sink.url)
    error = attempt(connector, message("sms", recipient=Recipient(id="tim", name="Tim")))
    assert error is not None
    assert (error.kind, error.detail) == ("permanent", "tim has no phone number")
    assert sink.arrived() == []


def test_apprise_is_optional(
    monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)  # as where it is not installed
    settings = wire(monkeypatch, "http://127.0.0.1:9")
    connector = AppriseConnector(AppriseChannel(url="env:APPRISE_URL"), settings)
    assert connector.unready() == NOT_INSTALLED
    error = attempt(connector, message("apprise"))
    assert error is not None
    assert error.kind == "permanent"
    assert "pip install apprise" in str(error)
    extension, rendered = connector.render(message("apprise"))
    payload = json.loads(rendered)
    assert extension == "json"
    assert payload["title"] == "Intakegesprek morgen <10:00> & koffie"
    assert payload["body"].endswith("[Inchecken](https://pactkeeper.example/checkin/ana?t=abc&x=1)")
    assert_no_secret(exposed(error, logs, rendered.decode("utf-8")))


# -- the registry ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "cls", "deduplicates"),
    [
        ("slack", SlackConnector, False),
        ("teams", TeamsConnector, False),
        ("mattermost", MattermostConnector, False),
        ("telegram", TelegramConnector, False),
        ("sms", SmsConnector, False),
        ("whatsapp", WhatsAppConnector, False),
        ("webhook", WebhookConnector, True),  # receivers must honour Idempotency-Key
        ("apprise", AppriseConnector, False),
    ],
)
def test_registry_names_each_connector(
    channel: str, cls: type[Connector], deduplicates: bool
) -> None:
    assert registry.connector_class(channel) is cls
    assert cls.channel == channel
    assert cls.deduplicates is deduplicates


# -- each service's own markup ---------------------------------------------------------

MARKDOWN_BODY = (
    "Hallo \\*Ana\\*,\n\nDe **mijlpaal** is [morgen](https://pactkeeper.example/s).\n\n"
    "- een\n- twee\n"
)


def test_each_service_gets_its_own_markup_from_the_one_markdown_body(
    sink: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The message's Markdown arrives as each service writes it; the escaped \\* as a *."""
    brk = markup.BREAK
    _, _, request = deliver("slack", sink, monkeypatch, text=MARKDOWN_BODY)
    section = json.loads(request["body"])["blocks"][1]["text"]["text"]
    assert section == (
        f"Hallo *{brk}Ana*{brk},\n\nDe *mijlpaal* is <https://pactkeeper.example/s|morgen>.\n\n"
        "• een\n• twee\n"
    )
    sink.start = len(sink.sink.requests())
    _, _, request = deliver("telegram", sink, monkeypatch, text=MARKDOWN_BODY)
    text = json.loads(request["body"])["text"]
    assert "Hallo *Ana*,\n\nDe <b>mijlpaal</b> is " in text
    assert '<a href="https://pactkeeper.example/s">morgen</a>.\n\n• een\n• twee\n' in text
    sink.start = len(sink.sink.requests())
    _, _, request = deliver("whatsapp", sink, monkeypatch, text=MARKDOWN_BODY)
    body = _form(request)["Body"]
    assert body.startswith(f"*Intakegesprek morgen <10:00> & koffie*\n\nHallo *{brk}Ana*{brk},")
    assert "De *mijlpaal* is morgen: https://pactkeeper.example/s.\n\n" in body
    assert "- een\n- twee\n" in body and "**" not in body and "\\" not in body
    sink.start = len(sink.sink.requests())
    _, _, request = deliver("sms", sink, monkeypatch, text=MARKDOWN_BODY, link=None)
    assert _form(request)["Body"] == (
        "Intakegesprek morgen <10:00> & koffie\n\n"
        "Hallo *Ana*,\n\nDe mijlpaal is morgen: https://pactkeeper.example/s.\n\n- een\n- twee\n"
    )
    sink.start = len(sink.sink.requests())
    _, _, request = deliver("teams", sink, monkeypatch, text=MARKDOWN_BODY)
    card = json.loads(request["body"])["attachments"][0]["content"]
    assert card["body"][1]["text"] == MARKDOWN_BODY
