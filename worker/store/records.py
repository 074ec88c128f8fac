"""Every record collection the engine keeps, and the ids of its rows: one home.

The store holds free-form records (``Store.put_record``/``records``) by collection name.
These names and row ids are persisted in every existing SQLite and Redis store, so they
never change; no other module writes one as a literal (docs/architecture.md §13).
"""

from __future__ import annotations

CLOSED = "closed"  # plan id -> {"at": moment, "by": who}: the plan was closed
CALENDAR_STAMPS = "calendars"  # plan id -> {"changed": when any event of the plan changed}
POLLERS = "pollers"  # poller (``imap``) -> {"holder", "until"}: the one poller at work now


def checkin_rows(plan_id: str) -> str:
    """The check-in answers of a plan: row ``checkin_row_id(person, day)`` per window."""
    return f"checkins:{plan_id}"


def checkin_row_id(person_id: str, day: str) -> str:
    return f"{person_id}/{day}"


def done_rows(plan_id: str) -> str:
    """The milestones marked done, by milestone id."""
    return f"done:{plan_id}"


def channel_targets(plan_id: str) -> str:
    """The channels that failed for a person of the plan (and why), by target id."""
    return f"targets:{plan_id}"


def channel_target_id(person_id: str, channel: str) -> str:
    return f"{person_id}/{channel}"


def calendar_events(plan_id: str) -> str:
    """Per event UID: the SEQUENCE, hashes and (for meetings) the event last sent."""
    return f"calendar:{plan_id}"


def invitees(plan_id: str) -> str:
    """Per ``<uid> <person>``: what that attendee was last sent of a meeting."""
    return f"invitees:{plan_id}"


def meeting_requests(plan_id: str) -> str:
    """Per request id: a meeting's METHOD:REQUEST as queued, shared by every invite item
    of that version (an item names its row instead of carrying the calendar itself)."""
    return f"requests:{plan_id}"


def caldav_resources(plan_id: str) -> str:
    """Per event UID: the href, ETag, SEQUENCE and digest written to the CalDAV calendar."""
    return f"caldav:{plan_id}"


# -- replies (worker/inbound/) ------------------------------------------------------------

INBOUND_SEEN = "inbound"  # "<via>:<external id>" -> what an inbound message came to (once)
WHATSAPP_SESSIONS = "whatsapp"  # E.164 phone -> {"at": the person's last inbound message}


def inbound_rate_id(via: str, sender: str, hour: int) -> str:
    """The row of ``INBOUND_RATES`` that counts one sender's messages in one hour."""
    return f"{via}:{sender}:{hour}"


INBOUND_RATES = "inbound_rates"


def optouts(plan_id: str) -> str:
    """The channels a person of the plan switched off by replying STOP, by target id
    (``channel_target_id``): {"off": bool, "at", "source"}."""
    return f"optouts:{plan_id}"


# -- calendar replies (worker/inbound/itip.py) ----------------------------------------------


def attendance(plan_id: str) -> str:
    """What attendees answered to the plan's meetings (iTIP REPLY), by
    ``attendance_row_id``: PARTSTAT, DELEGATED-TO, COMMENT, the reply's DTSTAMP."""
    return f"attendance:{plan_id}"


def attendance_row_id(uid: str, person_id: str, sequence: int, recurrence: str | None) -> str:
    """One attendee's answer to one revision (SEQUENCE) of a meeting, or of one occurrence."""
    return f"{uid} {person_id} {sequence}" + (f" {recurrence}" if recurrence else "")


def telegram_users(plan_id: str) -> str:
    """Per person of the plan: the Telegram account (``from.id``) that first answered for
    them, the only one whose answers count for them after that."""
    return f"telegram_users:{plan_id}"


def telegram_user_id(person_id: str) -> str:
    return person_id


TELEGRAM_OFFSETS = "telegram_offsets"  # bot id -> {"offset": next update_id, "at"}: polled


# -- personal data (worker/privacy/) ------------------------------------------------------

PURGED = "purged"  # plan id -> {"at", "closed", "report"}: its personal data was erased
FORGOTTEN = "forgotten"  # forgotten_id(plan, person) -> {"at", "plan", "pseudonym"}
ERASURES = "erasures"  # "<at> <n>" -> {"what", "plan", counts}: the audit, no personal data


def forgotten_id(plan_id: str, digest: str) -> str:
    """The row of ``FORGOTTEN`` for a person erased from a plan: ``digest`` is a keyed hash
    of the person's id (worker/privacy/), never the id itself."""
    return f"{plan_id} {digest}"


def plan_collections(plan_id: str) -> list[str]:
    """Every collection that holds rows of one plan only: what erasing the plan deletes
    and what erasing one of its people searches."""
    return [
        checkin_rows(plan_id),
        done_rows(plan_id),
        channel_targets(plan_id),
        calendar_events(plan_id),
        invitees(plan_id),
        meeting_requests(plan_id),
        caldav_resources(plan_id),
        optouts(plan_id),
        attendance(plan_id),
        telegram_users(plan_id),
    ]
