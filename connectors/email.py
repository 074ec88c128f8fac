"""E-mail: one builder for what goes over SMTP and into the outbox, and the SMTP sender.

The Message-ID is derived from the ledger key, so a message re-sent after an
unknown outcome is recognised by mail systems as the same message: e-mail is the
one channel the engine may re-send after a worker died mid-send.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import time
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any, ClassVar

from config.settings import Settings
from connectors.base import (
    Attachment,
    Connector,
    ConnectorError,
    Destination,
    ErrorKind,
    Message,
    destination,
)


def message_id(key: str, settings: Settings) -> str:
    return f"<{key}@{settings.uid_domain}>"


def sender(settings: Settings) -> Address:
    address = settings.smtp_from or settings.organizer_email
    return Address("pactkeeper", addr_spec=address)


def build_email(message: Message, settings: Settings, reply_to: str | None = None) -> EmailMessage:
    """The complete e-mail: text + HTML, the iTIP calendar part, attachments, headers.

    ``reply_to`` is the plan's ``communication.channels.email.reply_to``: the person a
    reply should reach (the footer asks for replies; the sender is a machine). A message
    whose ``extra["reply_to"]`` names pactkeeper's own reply address (``reply+<token>@``,
    set with ``PACTKEEPER_REPLY_ADDRESS``) is answered there instead: pactkeeper reads the
    reply, and passes on to the lead what is not an answer. Its List-Unsubscribe goes
    there too, with the subject STOP, which switches e-mail off for that person.
    """
    if not message.recipient.email:
        raise ConnectorError("permanent", f"{message.recipient.id} has no e-mail address")
    mail = EmailMessage(policy=SMTP)
    mail["From"] = sender(settings)
    mail["To"] = Address(message.recipient.name, addr_spec=message.recipient.email)
    reply_address = message.extra.get("reply_to")
    if reply_address or reply_to:
        mail["Reply-To"] = Address(addr_spec=str(reply_address or reply_to))
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime((message.when or datetime.now(UTC)).astimezone(UTC))
    mail["Message-ID"] = message_id(message.key, settings)
    mail["Auto-Submitted"] = "auto-generated"
    mail["List-Unsubscribe"] = (
        f"<mailto:{reply_address}?subject=STOP>"
        if reply_address
        else f"<mailto:{settings.organizer_email}?subject=unsubscribe%20{message.plan_id}>"
    )
    mail["X-Pactkeeper-Plan"] = message.plan_id
    mail["X-Pactkeeper-Kind"] = message.kind
    for name, value in message.headers.items():
        mail[name] = value
    _body(mail, message)
    # After the body: set_content() drops every Content-* header set before it.
    mail["Content-Language"] = message.recipient.language
    return mail


# Every text part is quoted-printable (attachments are base64), so the message is 7-bit
# clean: a server that does not offer 8BITMIME (RFC 6152) gets nothing it must refuse,
# and smtplib, which never asks for BODY=8BITMIME itself, sends nothing 8-bit.
TEXT_ENCODING = "quoted-printable"


def _body(mail: EmailMessage, message: Message) -> None:
    mail.set_content(message.text, charset="utf-8", cte=TEXT_ENCODING)
    if message.html is not None:
        mail.add_alternative(message.html, subtype="html", charset="utf-8", cte=TEXT_ENCODING)
    if message.calendar is not None:
        # RFC 6047: the iTIP part sits beside text and HTML, with the same METHOD in the
        # MIME header as in the body; the .ics attachment is for clients that ignore it.
        method = message.calendar.method
        mail.add_alternative(
            message.calendar.data.decode("utf-8"),
            subtype="calendar",
            charset="utf-8",
            cte=TEXT_ENCODING,
            params={"method": method},
        )
        mail.add_attachment(
            message.calendar.data, maintype="application", subtype="ics", filename="invite.ics"
        )
    for attachment in message.attachments:
        _attach(mail, attachment)


def _attach(mail: EmailMessage, attachment: Attachment) -> None:
    """An attachment with its whole content type: ``charset`` and ``method`` included."""
    parsed = EmailMessage()
    parsed["Content-Type"] = attachment.content_type
    content_type = parsed["Content-Type"]
    mail.add_attachment(
        attachment.data,
        maintype=parsed.get_content_maintype(),
        subtype=parsed.get_content_subtype(),
        filename=attachment.filename,
        params=dict(content_type.params),
    )


IDLE_CHECK = 5.0  # seconds a kept connection may idle before it is checked with NOOP


class EmailConnector(Connector):
    """SMTP with STARTTLS, implicit TLS or none; one connection kept across a batch."""

    channel: ClassVar[str] = "email"
    deduplicates: ClassVar[bool] = True

    def __init__(self, config: Any, settings: Settings) -> None:
        super().__init__(config, settings)
        self._smtp: smtplib.SMTP | None = None
        self._used = 0.0
        self._prepared_mail: tuple[Message, EmailMessage] | None = None

    def unready(self) -> str | None:
        return None if self.settings.smtp_host else "PACTKEEPER_SMTP_HOST is not set"

    def render(self, message: Message) -> tuple[str, bytes]:
        return "eml", self._build(message).as_bytes()

    def destinations(self, message: Message) -> list[Destination]:
        """The SMTP server (unpaced unless ``PACTKEEPER_PACING`` sets ``email``)."""
        return [destination("email", f"{self.settings.smtp_host}:{self.settings.smtp_port}")]

    def _build(self, message: Message) -> EmailMessage:
        reply_to = getattr(self.config, "reply_to", None)
        return build_email(message, self.settings, str(reply_to) if reply_to else None)

    def prepare(self, message: Message) -> None:
        # The mail itself is kept, not its bytes: smtplib serialises it once, in send.
        self._prepared_mail = (message, self._build(message))

    def send(self, message: Message) -> None:
        prepared = self._prepared_mail
        mail = prepared[1] if prepared and prepared[0] is message else self._build(message)
        address = str(message.recipient.email)
        try:
            refused = self._connection().send_message(mail, to_addrs=[address])
        except smtplib.SMTPRecipientsRefused as error:
            raise _refused(error.recipients) from None
        except smtplib.SMTPResponseException as error:
            self._drop()
            raise _by_code(error.smtp_code, "SMTP server", str(error.smtp_error)) from None
        except (smtplib.SMTPServerDisconnected, TimeoutError, OSError) as error:
            self._drop()
            # The DATA may have been accepted before the connection broke.
            raise ConnectorError("unknown", f"SMTP: {type(error).__name__} while sending") from None
        if refused:
            raise _refused(refused)

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            # A connection used a moment ago is alive; one idle for longer is checked with
            # NOOP first, so a server that closed it costs a reconnect, not a failed send.
            if time.monotonic() - self._used < IDLE_CHECK:
                self._used = time.monotonic()
                return self._smtp
            try:
                if self._smtp.noop()[0] == 250:
                    self._used = time.monotonic()
                    return self._smtp
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()
        try:
            self._smtp = self._connect()
            self._used = time.monotonic()
        except smtplib.SMTPAuthenticationError:
            raise ConnectorError("permanent", "SMTP: authentication failed") from None
        except smtplib.SMTPResponseException as error:
            raise _by_code(error.smtp_code, "SMTP server", "refused the session") from None
        except (OSError, smtplib.SMTPException) as error:
            raise ConnectorError(
                "transient", f"SMTP: cannot connect ({type(error).__name__})"
            ) from None
        return self._smtp

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        host = str(settings.smtp_host)
        timeout = settings.smtp_timeout
        context = ssl.create_default_context()
        if settings.smtp_ca_file is not None:
            context.load_verify_locations(cafile=str(settings.smtp_ca_file))
        if settings.smtp_tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                host, settings.smtp_port or 465, timeout=timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(host, settings.smtp_port or 587, timeout=timeout)
            if settings.smtp_tls == "starttls":
                smtp.starttls(context=context)
        if settings.smtp_user and settings.smtp_password:
            smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
        return smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(OSError):
                self._smtp.close()
        self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.quit()
        self._smtp = None


def _by_code(code: int, who: str, text: str) -> ConnectorError:
    kind: ErrorKind = "transient" if 400 <= code < 500 else "permanent"
    return ConnectorError(kind, f"{who}: {code} {text}".strip())


def _refused(refused: dict[str, tuple[int, bytes]]) -> ConnectorError:
    codes = {address: code for address, (code, _) in refused.items()}
    transient = all(400 <= code < 500 for code in codes.values())
    detail = ", ".join(f"{address} {code}" for address, code in sorted(codes.items()))
    return ConnectorError(
        "transient" if transient else "permanent",
        f"SMTP refused {detail}",
        recipients=tuple(sorted(codes)),
    )
