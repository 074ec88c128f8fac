"""A generic JSON webhook, signed with HMAC-SHA256: for tools pactkeeper does not know.

The body (UTF-8 JSON)::

    {"plan": "...", "kind": "reminder", "key": "<ledger key>",
     "recipient": {"id": "ana", "name": "Ana de Vries"},
     "subject": "...", "text": "...", "link": "https://..." or null,
     "facts": [{"label": "...", "value": "..."}], "sent_at": "2027-01-11T08:00:00Z"}

The headers:

- ``X-Pactkeeper-Timestamp``: Unix seconds when the request was signed;
- ``X-Pactkeeper-Signature: sha256=<hex>``: HMAC-SHA256, keyed with the plan's
  ``secret``, over ``f"{timestamp}.".encode() + body``, the body being the exact
  bytes received (verify before parsing; compare with ``hmac.compare_digest``;
  reject timestamps more than 5 minutes off, which stops replays);
- ``Idempotency-Key``: the ledger key, the same on every attempt of one message.

``text`` is the message's body as drafted: CommonMark in which plan text is escaped
(docs/channels.md), for a receiver that renders Markdown; ``subject`` and the facts
are plain text.

Verification and a receiver in Python: ``docs/webhook.md``. The scheme follows
Stripe's and Slack's request signing:
https://docs.stripe.com/webhooks#verify-manually and
https://api.slack.com/authentication/verifying-requests-from-slack.

The receiver contract says: act once per ``Idempotency-Key`` and answer 2xx to a
repeat. That is why this channel counts as de-duplicating: after an unknown
outcome (a read timeout) the engine may send the message again. Without a
``secret`` in the plan the request goes unsigned (no signature header).
Answers are classified by ``connectors.http.classify``: 2xx sent, 400/404/410
permanent, 429 and 5xx transient.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any, ClassVar

from config.plan import WebhookChannel
from connectors import http
from connectors.base import (
    Connector,
    Destination,
    Message,
    destination,
    missing_secret,
    read_secret,
)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The value of ``X-Pactkeeper-Signature`` for a body signed at ``timestamp``."""
    signed = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


class WebhookConnector(Connector):
    channel: ClassVar[str] = "webhook"
    deduplicates: ClassVar[bool] = True  # by the receiver contract above
    config: WebhookChannel

    def unready(self) -> str | None:
        return missing_secret(self.config.secret) if self.config.secret else None

    def render(self, message: Message) -> tuple[str, bytes]:
        return "json", http.encode_json(self.payload(message))

    def destinations(self, message: Message) -> list[Destination]:
        """The receiving URL (unpaced unless ``PACTKEEPER_PACING`` sets ``webhook``)."""
        return [destination("webhook", self.config.url)]

    def send(self, message: Message) -> None:
        body = self.rendered(message)[1]
        timestamp = str(int(time.time()))  # the real clock: receivers check freshness
        headers = {
            **http.JSON_HEADERS,
            "Idempotency-Key": message.key,
            "X-Pactkeeper-Timestamp": timestamp,
        }
        if self.config.secret:
            secret = read_secret(self.config.secret)
            headers["X-Pactkeeper-Signature"] = signature(secret, timestamp, body)
        http.post(
            self.config.url,
            service=f"webhook at {http.host_of(self.config.url)}",
            data=body,
            headers=headers,
            timeout=http.timeouts(self.settings),
        )

    def payload(self, message: Message) -> dict[str, Any]:
        sent_at = (message.when or datetime.now(UTC)).astimezone(UTC)
        return {
            "plan": message.plan_id,
            "kind": message.kind,
            "key": message.key,
            "recipient": {"id": message.recipient.id, "name": message.recipient.name},
            "subject": message.subject,
            "text": message.text,
            "link": message.link,
            "facts": [{"label": label, "value": value} for label, value in message.facts],
            "sent_at": sent_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
