"""Apprise: an optional catch-all for the long tail of services (ntfy, Signal, Matrix, ...).

- Apprise: https://github.com/caronc/apprise
- Its URLs, one per service: https://github.com/caronc/apprise/wiki
- Python API (``Apprise.add``, ``Apprise.notify``): https://github.com/caronc/apprise/wiki/Development_API

``apprise`` is not a dependency of pactkeeper: ``pip install apprise`` where it
is wanted; without it ``unready()`` says so and the engine routes the channel to
the outbox (logged at start-up). The Apprise URL holds the service's credentials,
so the plan names it as ``env:NAME``.

Best effort, by Apprise's design: ``notify`` reports only True or False, with no
status and no Retry-After, and retries nothing. A False is therefore classed
``transient``: the engine tries again a few times on its backoff and, when its
attempts run out, reports the failure to the team lead. A URL Apprise does not
understand is ``permanent``. Apprise talks HTTP itself (not through
``connectors.http``), with its own timeouts (``cto``/``rto`` URL parameters, 4 s
by default); it logs target URLs, so its records below INFO are dropped and
the URL is hidden in the others while it sends. No idempotency: the channel
does not de-duplicate.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Iterator
from types import ModuleType
from typing import Any, ClassVar

from config.plan import AppriseChannel
from connectors import http, markup
from connectors.base import (
    Connector,
    ConnectorError,
    Message,
    action_label,
    missing_secret,
    read_secret,
)

NOT_INSTALLED = "the apprise package is not installed (pip install apprise)"


def _apprise() -> ModuleType | None:
    try:
        return importlib.import_module("apprise")
    except ImportError:
        return None


class _Guard(logging.Filter):
    """Apprise logs target URLs: drop its DEBUG lines and hide the URL in the others.

    Apprise masks passwords in most lines (CWE-312), but not in a URL it cannot parse.
    """

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO:
            return False
        text = record.getMessage()
        if self.url in text:
            record.msg, record.args = text.replace(self.url, "[the Apprise URL]"), ()
        return True


@contextlib.contextmanager
def _guarded_logs(url: str) -> Iterator[None]:
    http.hide_url_paths()  # Apprise's requests go through urllib3 too
    logger, guard = logging.getLogger("apprise"), _Guard(url)
    logger.addFilter(guard)
    try:
        yield
    finally:
        logger.removeFilter(guard)


def _md(value: str) -> str:
    """A fact is plan text: escaped, so it shows as written in Apprise's Markdown."""
    return markup.text(value, "markdown")


class AppriseConnector(Connector):
    channel: ClassVar[str] = "apprise"
    config: AppriseChannel

    def unready(self) -> str | None:
        return NOT_INSTALLED if _apprise() is None else missing_secret(self.config.url)

    def render(self, message: Message) -> tuple[str, bytes]:
        return "json", http.encode_json(self.payload(message))

    def send(self, message: Message) -> None:
        apprise = _apprise()
        if apprise is None:
            raise ConnectorError("permanent", f"Apprise: {NOT_INSTALLED}")
        url, payload = read_secret(self.config.url), self.payload(message)
        with _guarded_logs(url):
            notifier = apprise.Apprise()
            if not notifier.add(url):
                raise ConnectorError("permanent", "Apprise: the URL names no service Apprise knows")
            accepted = notifier.notify(
                title=payload["title"],
                body=payload["body"],
                body_format=apprise.NotifyFormat.MARKDOWN,
            )
        if not accepted:
            raise ConnectorError("transient", "Apprise: not delivered (Apprise gives no reason)")

    def payload(self, message: Message) -> dict[str, Any]:
        """What Apprise is handed: a title and a Markdown body."""
        parts = [message.text]
        if message.facts:
            facts = (f"- **{_md(label)}:** {_md(value)}" for label, value in message.facts)
            parts.append("\n".join(facts))
        if message.link:
            parts.append(f"[{action_label(message)}]({message.link})")
        return {"title": message.subject, "body": "\n\n".join(parts), "format": "markdown"}
