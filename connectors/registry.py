"""Channel name -> connector class, explicit and imported lazily (docs/architecture.md §1).

No folder scanning: a connector exists when it is listed here. The engine asks
``connector_for`` for a plan's channel; where the deployment has not configured
the channel (no SMTP host, a webhook secret that is not set), or everything must
stay local (``simulate``), the message goes to the outbox folder instead, and the
reason is logged once at start-up, never silently.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from config.settings import Settings
from connectors.base import Connector

CONNECTORS: dict[str, str] = {
    "email": "connectors.email:EmailConnector",
    "sms": "connectors.twilio:SmsConnector",
    "whatsapp": "connectors.twilio:WhatsAppConnector",
    "slack": "connectors.slack:SlackConnector",
    "teams": "connectors.teams:TeamsConnector",
    "mattermost": "connectors.mattermost:MattermostConnector",
    "telegram": "connectors.telegram:TelegramConnector",
    "webhook": "connectors.webhook:WebhookConnector",
    "apprise": "connectors.apprise:AppriseConnector",
}


def connector_class(channel: str) -> type[Connector]:
    try:
        module_name, class_name = CONNECTORS[channel].split(":")
    except KeyError:
        raise LookupError(f"no connector for the channel '{channel}'") from None
    cls: type[Connector] = getattr(importlib.import_module(module_name), class_name)
    return cls


def connector_for(
    channel: str, config: Any, settings: Settings, outbox: bool = False
) -> tuple[Connector, str | None]:
    """The connector for a plan's channel, and why it is the outbox (None when real)."""
    from connectors.outbox import OutboxConnector

    connector = connector_class(channel)(config, settings)
    reason = "outbox only" if outbox else connector.unready()
    if reason is None:
        return connector, None
    return OutboxConnector(connector, Path(settings.outbox_dir)), reason
