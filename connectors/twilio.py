"""Twilio: SMS and WhatsApp through the Programmable Messaging API.

- Create a Message: https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource
- WhatsApp senders and the 24-hour window: https://www.twilio.com/docs/whatsapp/key-concepts
- Content templates: https://www.twilio.com/docs/content/send-templates-created-with-the-content-template-builder
- Error codes: https://www.twilio.com/docs/api/errors

``POST {twilio_api_url}/2010-04-01/Accounts/{sid}/Messages.json`` with form
fields ``To``, ``From`` and ``Body``, basic auth account SID / auth token (the
token is the secret and only travels in the Authorization header). Twilio
answers 201; errors carry a JSON ``code``: 21211 (invalid 'To'), 21408 (region
not enabled), 21610 (the recipient sent STOP), 21614 (not a mobile number),
63007 (no WhatsApp sender) and 63016 (WhatsApp outside the 24-hour window
without a template) are permanent; 20429 and HTTP 429 are transient. Twilio
mostly reports 63016 later, on the message's status, not in this answer; the
answer then is 201 and delivery is not confirmed here.

SMS carries the subject and the link only (texts cost per 160-character
segment), and last the privacy line every message ends with (``extra["privacy"]``,
``Privacy: URL``), at most 1600 characters with the links always whole. A message
without a link carries its plain text, which ends with that line already. WhatsApp carries
the whole message; a business-initiated WhatsApp message outside the 24-hour
window needs an approved Content template: when ``settings.twilio_content_sids``
has the message's kind (``reminder``, ``checkin_request``, ``warning``, ...),
``ContentSid`` and ``ContentVariables`` replace ``Body``. Inside the window (the
person's own message less than 24 hours ago, ``message.extra["session"]``, set by the
engine from inbound messages) the whole message goes free-form. The engine sends
nothing on WhatsApp outside the window without a template: the next channel takes it.
The variables every template may use, in this order:

- ``{{1}}`` the recipient's name
- ``{{2}}`` the subject (on one line)
- ``{{3}}`` the link (the deployment's base URL when the message has none)

The text is made for each by ``connectors.markup``: plain on SMS (no markup at all,
links as ``label: url``), WhatsApp's own on WhatsApp (``*bold*``, ``_italic_``; plan
text literal, its formatting characters stopped).

Twilio has no idempotency key for sending: neither channel de-duplicates.
"""

from __future__ import annotations

import json
import re
from typing import ClassVar

from connectors import http, markup
from connectors.base import Connector, ConnectorError, Destination, Message, destination

MAX_BODY = 1600  # Twilio's limit for one message's Body
TRANSIENT_CODES = {20429: "too many requests"}
PERMANENT_CODES = {
    20003: "authentication failed",
    21211: "invalid 'To' number",
    21408: "sending to this region is not enabled",
    21610: "the recipient unsubscribed (STOP)",
    21614: "'To' is not a mobile number",
    63007: "no WhatsApp sender for 'From'",
    63016: "outside the WhatsApp 24-hour window: configure a Content template for this kind",
}


def classify(response: http.Response, service: str) -> None:
    """Twilio's error code decides where it knows one; the HTTP status otherwise."""
    try:
        code = response.json().get("code") if not response.ok else None
    except (ValueError, AttributeError):
        code = None
    if code in TRANSIENT_CODES:
        wait = http.retry_after(response.headers.get("Retry-After"))
        raise ConnectorError(
            "transient", f"{service}: error {code} ({TRANSIENT_CODES[code]})", wait, throttled=True
        )
    if code in PERMANENT_CODES:
        raise ConnectorError("permanent", f"{service}: error {code} ({PERMANENT_CODES[code]})")
    # Twilio's own message may quote the phone number: name the code, not the text.
    http.classify(response, service, hint=f"error {code}" if code else None)


# What a cut can leave at its end: a formatting mark without the break that followed it
# (connectors.markup), which would start bold or italic, and the spaces before it.
_HALF_AT_END = re.compile(r"[*_~`\s]+$")


def _fit(head: str, link: str | None) -> str:
    """``head``, then the link whole: the head gives way when both do not fit, never
    leaving half of a stopped mark."""
    room = MAX_BODY - (len(link) + 1 if link else 0)
    if len(head) > room:
        head = _HALF_AT_END.sub("", head[: room - 1]) + "…"
    return f"{head}\n{link}" if link else head


def _text(value: str) -> str:
    return markup.text(value, "whatsapp")


class TwilioConnector(Connector):
    prefix: ClassVar[str] = ""  # "whatsapp:" before both numbers on WhatsApp

    def sender(self) -> tuple[str, str | None]:
        """The setting that names this channel's sender, and its value."""
        return "PACTKEEPER_TWILIO_FROM", self.settings.twilio_from

    def unready(self) -> str | None:
        sender, number = self.sender()
        needed = {
            "PACTKEEPER_TWILIO_ACCOUNT_SID": self.settings.twilio_account_sid,
            "PACTKEEPER_TWILIO_AUTH_TOKEN": self.settings.twilio_auth_token,
            sender: number,
        }
        missing = [name for name, value in needed.items() if not value]
        return f"{', '.join(missing)} not set" if missing else None

    def render(self, message: Message) -> tuple[str, bytes]:
        return "json", http.encode_json(self.fields(message))

    def destinations(self, message: Message) -> list[Destination]:
        """The sending number: Twilio sends about 1 a second from one number and queues
        the rest, so a burst would arrive late rather than fail."""
        return [destination(self.channel, self.sender()[1] or "")]

    def send(self, message: Message) -> None:
        settings = self.settings
        sid, token, reason = settings.twilio_account_sid, settings.twilio_auth_token, self.unready()
        if reason or sid is None or token is None:
            raise ConnectorError("permanent", f"{self.service}: {reason}")
        http.post(
            f"{settings.twilio_api_url.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json",
            service=self.service,
            data=self.fields(message),
            auth=(sid, token.get_secret_value()),
            timeout=http.timeouts(self.settings),
            classify_with=classify,
        )

    @property
    def service(self) -> str:
        return f"Twilio {self.channel}"

    def fields(self, message: Message) -> dict[str, str]:
        """The form fields of the request (no credentials: those go in the header)."""
        if not message.recipient.phone:
            raise ConnectorError("permanent", f"{message.recipient.id} has no phone number")
        sender = (self.sender()[1] or "").removeprefix(self.prefix)
        return {
            "To": f"{self.prefix}{message.recipient.phone}",
            "From": f"{self.prefix}{sender}",
            **self.content(message),
        }

    def content(self, message: Message) -> dict[str, str]:
        if message.link:
            tail = "\n".join(filter(None, (message.link, message.extra.get("privacy"))))
            return {"Body": _fit(message.subject, tail)}
        return {"Body": _fit(f"{message.subject}\n\n{markup.render(message.text, 'plain')}", None)}


class SmsConnector(TwilioConnector):
    channel: ClassVar[str] = "sms"


class WhatsAppConnector(TwilioConnector):
    channel: ClassVar[str] = "whatsapp"
    prefix: ClassVar[str] = "whatsapp:"

    def sender(self) -> tuple[str, str | None]:
        return "PACTKEEPER_TWILIO_WHATSAPP_FROM", self.settings.twilio_whatsapp_from

    def content(self, message: Message) -> dict[str, str]:
        template = self.settings.twilio_content_sids.get(message.kind)
        if template and not message.extra.get("session"):
            values = (
                message.recipient.name,
                message.subject,
                message.link or self.settings.base_url,
            )
            # WhatsApp rejects variables with new lines, tabs or runs of spaces.
            variables = {str(n): " ".join(v.split()) for n, v in enumerate(values, start=1)}
            return {"ContentSid": template, "ContentVariables": json.dumps(variables)}
        facts = "".join(f"\n{_text(label)}: {_text(value)}" for label, value in message.facts)
        subject = _text(message.subject)
        body = markup.render(message.text, "whatsapp", [message.link])
        return {"Body": _fit(f"*{subject}*\n\n{body}{facts}", message.link)}
