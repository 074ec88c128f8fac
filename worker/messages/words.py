"""General words and text helpers that many messages share, in Dutch and English.

Kept apart from the i18n machinery in ``worker.messages`` (which renders and formats):
this module holds word tables and the small helpers around them, so a feature's drafts
import words without importing the composer or another feature.
"""

from __future__ import annotations

LABELS = {
    "nl": {
        "checkin": "Check-in invullen",
        "when": "Wanneer",
        "where": "Waar",
        "due": "Deadline",
        "owner": "Verantwoordelijk",
        "footer": "Verstuurd door pactkeeper voor {title}. Vragen? Antwoord op dit bericht.",
    },
    "en": {
        "checkin": "Check in now",
        "when": "When",
        "where": "Where",
        "due": "Due",
        "owner": "Owner",
        "footer": "Sent by pactkeeper for {title}. Questions? Reply to this message.",
    },
}


def label(lang: str, name: str) -> str:
    return LABELS.get(lang, LABELS["en"])[name]
