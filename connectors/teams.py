"""Microsoft Teams: a Workflows webhook that posts an Adaptive Card.

- Workflows webhooks (the successor of the retired Office 365 connectors):
  https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook
- The message envelope and Adaptive Card 1.4:
  https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-reference#adaptive-card
- The card schema: https://adaptivecards.io/explorer/

The webhook URL is the secret: it carries a ``sig=`` signature in its query
string. The flow "Post to a channel when a webhook request is received" answers
202 Accepted: the flow took the request; a card the flow later fails to post is
visible only in the flow's run history. Errors are classified by
``connectors.http.classify``. Workflows have no idempotency key, so the channel
does not de-duplicate.

TextBlocks read a subset of Markdown (bold, italic, lists, links); the body is written
in it by ``connectors.markup``, and the subject and facts, plain text, are escaped for
it, so plan text never becomes a link or bold.
"""

from __future__ import annotations

from typing import Any, ClassVar

from config.plan import TeamsChannel
from connectors import http, markup
from connectors.base import Message, action_label

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"


class TeamsConnector(http.IncomingWebhook):
    channel: ClassVar[str] = "teams"
    service: ClassVar[str] = "Teams"
    config: TeamsChannel

    def payload(self, message: Message) -> dict[str, Any]:
        body: list[dict[str, Any]] = [
            {
                "type": "TextBlock",
                # Plan text, and TextBlocks read Markdown: escaped.
                "text": markup.text(message.subject, "teams"),
                "size": "Large",
                "weight": "Bolder",
                "wrap": True,
            },
            {
                "type": "TextBlock",
                "text": markup.render(message.text, "teams", [message.link]),
                "wrap": True,
            },
        ]
        if message.facts:
            facts = [
                {"title": markup.text(label, "teams"), "value": markup.text(value, "teams")}
                for label, value in message.facts
            ]
            body.append({"type": "FactSet", "facts": facts})
        card: dict[str, Any] = {
            "$schema": CARD_SCHEMA,
            "type": "AdaptiveCard",
            "version": "1.4",  # the highest version Teams renders on every client
            "body": body,
        }
        if message.link:
            card["actions"] = [
                {"type": "Action.OpenUrl", "title": action_label(message), "url": message.link}
            ]
        return {
            "type": "message",
            "attachments": [{"contentType": CARD_TYPE, "contentUrl": None, "content": card}],
        }
