"""What every connector shares: the message it sends and the one error it raises.

A connector is a small class (docs/architecture.md §6): build the payload, hand it to
``connectors.http`` (or SMTP), classify the answer. It returns nothing when the
service accepted the message and raises ``ConnectorError`` otherwise:

- ``transient``: try again later (429, connection refused, 5xx, SMTP 4xx);
  ``retry_after`` carries the service's Retry-After in seconds when it gave one;
- ``permanent``: will not work until someone changes something (400/403/404/410,
  SMTP 5xx, a blocked bot); the engine tells the team lead;
- ``unknown``: the request went out and no answer came (read timeout): the
  message may or may not have arrived, so it is never blindly sent again.

Error texts never contain a secret: name the service and the status, not the URL.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from config.settings import Settings

ErrorKind = Literal["transient", "permanent", "unknown"]


class ConnectorError(Exception):
    def __init__(
        self,
        kind: ErrorKind,
        detail: str,
        retry_after: float | None = None,
        recipients: tuple[str, ...] = (),
        *,
        throttled: bool = False,
    ) -> None:
        super().__init__(detail)
        self.kind: ErrorKind = kind
        self.detail = detail
        self.retry_after = retry_after
        # The service said "too fast" (HTTP 429, Telegram's flood control, Twilio 20429):
        # the engine slows down for the message's destinations (worker/delivery/pacing.py).
        self.throttled = throttled
        # For e-mail: the addresses this error is about (the others were accepted).
        self.recipients = recipients

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


class ConfigurationError(Exception):
    """A channel cannot be used as configured (a missing secret, an unknown provider)."""


@dataclass(frozen=True)
class Recipient:
    id: str
    name: str
    email: str | None = None
    phone: str | None = None
    language: str = "en"
    zone: str = "UTC"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar; method=REQUEST"
    data: bytes


@dataclass(frozen=True)
class CalendarPart:
    """An iTIP calendar object carried by an e-mail (METHOD:REQUEST or CANCEL)."""

    method: str
    data: bytes


@dataclass(frozen=True)
class Message:
    """One message to one person on one channel, already rendered in their language."""

    key: str  # the ledger key: the e-mail Message-ID and the chat idempotency key
    plan_id: str
    kind: str  # kickoff, reminder, checkin_request, warning, handover, invite, cancel, ...
    channel: str
    recipient: Recipient
    subject: str
    text: str
    html: str | None = None
    link: str | None = None  # the one action that matters (check-in link, download)
    link_label: str | None = None
    facts: tuple[tuple[str, str], ...] = ()  # label/value pairs, shown as card fields
    attachments: tuple[Attachment, ...] = ()
    calendar: CalendarPart | None = None
    when: datetime | None = None  # the engine's send time (virtual in a simulation)
    headers: dict[str, str] = field(default_factory=dict)  # extra e-mail headers
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. {"template": "reminder"}


def read_secret(reference: str) -> str:
    """The secret a plan names as ``env:NAME`` (NAME or NAME_FILE), for sending now.

    A secret that vanished after start-up is a ``permanent`` error that names the
    variable, never the value.
    """
    from config.settings import SecretMissing, read_env_secret

    try:
        return read_env_secret(reference.removeprefix("env:")).get_secret_value()
    except SecretMissing as error:
        raise ConnectorError("permanent", str(error)) from None


def missing_secret(reference: str) -> str | None:
    """Why ``env:NAME`` cannot be read here, or None: what ``unready`` reports."""
    try:
        read_secret(reference)
    except ConnectorError as error:
        return error.detail
    return None


@dataclass(frozen=True)
class Destination:
    """What a service limits, for pacing: ``bucket`` names it (a hash, never the URL, token
    or number itself) and ``rule`` is its entry in ``config.pacing.DEFAULTS``."""

    bucket: str
    rule: str


def destination(rule: str, secret: str) -> Destination:
    """The destination ``rule:<hash of secret>``: a webhook URL, a bot token or a phone
    number must not land in a store key or a log line, and one hash names it everywhere."""
    digest = hashlib.sha256(f"{rule}|{secret}".encode()).hexdigest()[:20]
    return Destination(f"{rule}:{digest}", rule)


def action_label(message: Message) -> str:
    """The text of the message's one button or link, in the recipient's language."""
    return message.link_label or {"nl": "Openen"}.get(message.recipient.language, "Open")


class Connector:
    """Sends messages on one channel; subclasses set ``channel`` and implement ``send``."""

    channel: ClassVar[str] = ""
    # True where sending the same message twice reaches the person once (e-mail with
    # the same Message-ID): only such channels are re-sent after an unknown outcome.
    deduplicates: ClassVar[bool] = False

    def __init__(self, config: Any, settings: Settings) -> None:
        self.config = config  # the plan's section under communication.channels
        self.settings = settings
        self._prepared: tuple[Message, tuple[str, bytes]] | None = None

    def unready(self) -> str | None:
        """Why this connector cannot send for real here (a missing secret), or None."""
        return None

    def send(self, message: Message) -> None:
        raise NotImplementedError

    def destinations(self, message: Message) -> list[Destination]:
        """What this message is sent to, as the service limits it: none by default."""
        return []

    def render(self, message: Message) -> tuple[str, bytes]:
        """What would go over the wire, as (file extension, bytes): for the outbox."""
        raise NotImplementedError

    def prepare(self, message: Message) -> None:
        """Build what ``send`` puts on the wire before anything goes out, so an error in it
        is local and certain (the message fails for good), never an unknown outcome. What
        was built is kept for the ``send`` of this same message: it is built once."""
        self._prepared = (message, self.render(message))

    def rendered(self, message: Message) -> tuple[str, bytes]:
        """``render(message)``, reusing what ``prepare`` built for this very message."""
        prepared = self._prepared
        if prepared is not None and prepared[0] is message:
            return prepared[1]
        return self.render(message)

    def close(self) -> None:
        """Release connections kept open across a batch."""
