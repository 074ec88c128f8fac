"""The store contract: one interface, two backends (Redis for production, SQLite embedded).

What it holds (docs/architecture.md §4):

- **plans**: the text of each registered plan and its digest;
- **the due index and the ledger**: one item per occurrence key, moving
  ``due -> claimed (lease) -> sending -> sent | failed | unknown``; ``cancelled``
  when the plan no longer schedules it, ``expired`` when it was already past when
  the plan was registered. Every move is a compare-and-set, so any number of
  sweepers and workers can run at once and each key is sent once;
- **calendar revisions**: per UID the last SEQUENCE and a digest of what matters;
- **records**: small JSON documents in named collections (check-in windows,
  warnings, finished milestones, disabled channel targets), with insert-once and
  compare-and-set updates;
- **once-flags**: ``once(name)`` is true for the first caller only;
- **pacing**: one GCRA slot per destination bucket (``take_slot``, ``narrow_slot``), so
  every worker keeps to one rate per Slack webhook, Telegram chat or sending number;
- **erasure** (docs/architecture.md §17): cancelling items, rewriting finished ones
  without their personal data, deleting a plan's items and records, and compacting so
  that no byte of what was deleted stays behind.

Times are POSIX seconds (UTC). The one contract test suite in
``tests/contract/test_store.py`` runs against both backends.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

STATES = ("due", "claimed", "sending", "sent", "failed", "unknown", "cancelled", "expired")
OPEN_STATES = ("due", "claimed", "sending")
ITEM_FIELDS = (
    "key",
    "plan_id",
    "kind",
    "due",
    "ref",
    "recipient",
    "channel",
    "origin",
    "data",
    "state",
    "attempts",
    "token",
    "lease",
    "detail",
    "sent_at",
    "subject",
    "channel_used",
)


@dataclass
class Item:
    """One scheduled delivery or engine step, and where it stands."""

    key: str
    plan_id: str
    kind: str
    due: float
    ref: str = ""
    recipient: str | None = None
    channel: str | None = None
    origin: str = "plan"  # plan: from the timeline (sync adds and removes); engine: reactions
    data: dict[str, Any] = field(default_factory=dict)
    state: str = "due"
    attempts: int = 0
    token: str | None = None
    lease: float | None = None
    detail: str = ""
    sent_at: float | None = None
    subject: str = ""
    channel_used: str | None = None

    def to_row(self) -> dict[str, Any]:
        row = {name: getattr(self, name) for name in ITEM_FIELDS}
        row["data"] = json.dumps(self.data, sort_keys=True, ensure_ascii=False)
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Item:
        values: dict[str, Any] = {name: row.get(name) for name in ITEM_FIELDS}
        values["data"] = json.loads(values["data"] or "{}")
        values["due"] = float(values["due"])
        values["attempts"] = int(values["attempts"] or 0)
        for name in ("lease", "sent_at"):
            values[name] = float(values[name]) if values[name] not in (None, "") else None
        for name in ("recipient", "channel", "token", "channel_used"):
            values[name] = values[name] or None
        for name in ("ref", "detail", "subject"):
            values[name] = values[name] or ""
        return cls(**values)


@dataclass(frozen=True)
class Claim:
    key: str
    token: str
    kind: str = ""  # the item's kind, so a sweep can run engine steps in batches


def claims_of(keys: list[str], token: str, kinds: list[str | None]) -> list[Claim]:
    """The Claims of one claim call, one per key, kinds in the same order (None: "").

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``:
    0.8 to 1.0 ms for the 1,000 Claims of one sweep on this machine, half the bare claim
    script (bench/bench_sweep.py --variants). Filling each new instance's dict gives the
    same objects (equal, hashable, still frozen) in about half that time (0.43-0.50 ms).
    """
    new = object.__new__
    claims = []
    for key, kind in zip(keys, kinds, strict=True):
        claim = new(Claim)
        fields = claim.__dict__
        fields["key"] = key
        fields["token"] = token
        fields["kind"] = kind or ""
        claims.append(claim)
    return claims


# Pacing (worker/delivery/pacing.py): after a 429 a bucket's interval is multiplied, up to
# NARROW_CAP times the rule's; each send it lets go takes a tenth of the excess off again.
NARROW_CAP = 16.0
WIDEN_KEEP = 0.9
PACE_IDLE = 60.0  # seconds a bucket's state outlives its last slot and hold (then forgotten)


@dataclass(frozen=True)
class Pace:
    """One destination bucket and its rule: one send per ``interval`` s, ``burst`` at once."""

    bucket: str
    interval: float
    burst: int = 1


@dataclass
class PaceState:
    """A bucket as stored: its theoretical arrival time (the next free slot), the factor
    its interval is multiplied by since a 429, the Retry-After it holds until, the slot
    it booked for the one message asking (``mine``; None: none), and ``went``: the same
    arrival time kept over the sends that went out only. A booked message comes back with
    the first sweep after its slot, so two bookings a second apart can be claimed by one
    late sweep; ``went`` keeps the sends themselves an interval apart."""

    tat: float
    factor: float = 1.0
    held: float = 0.0
    mine: float | None = None
    went: float = 0.0

    @property
    def expires(self) -> float:
        """When the bucket is as good as new (its slots and hold past): it may vanish."""
        return max(self.tat, self.held) + PACE_IDLE

    def widen(self) -> None:
        self.factor = max(1.0, 1.0 + (self.factor - 1.0) * WIDEN_KEEP)

    def narrow(self, pace: Pace, now: float, hold_until: float, factor: float) -> None:
        """The next slot: not before the hold, one narrowed interval from now. The slots
        booked before were spaced for the old interval: the store drops them."""
        self.held = max(self.held, hold_until)
        self.factor = min(self.factor * factor, NARROW_CAP)
        self.tat = max(self.held, now + pace.interval * self.factor)

    def earliest(self, pace: Pace, now: float) -> float:
        """When this bucket lets the message go: now on its own booking; else the next
        slot the rule allows, and none before the hold."""
        spread = pace.interval * self.factor * (pace.burst - 1)
        if self.mine is not None:
            return max(self.mine, now, self.went - spread)
        return max(self.tat - spread, self.held, self.went - spread)


def book_slot(states: list[PaceState], paces: list[Pace], now: float) -> float:
    """``Store.take_slot`` on states already read (the SQLite store; the Redis script does
    the same in Lua): 0.0 or the moment booked, the states updated in place."""
    moments = [state.earliest(pace, now) for state, pace in zip(states, paces, strict=True)]
    at = max([now, *moments])
    for state, pace, moment in zip(states, paces, moments, strict=True):
        if at <= now:  # it goes: a booking is used up, a free bucket books now
            if state.mine is None:
                state.tat = max(state.tat, now) + pace.interval * state.factor
            state.went = max(state.went, now) + pace.interval * state.factor
            state.mine = None
            state.widen()
        elif moment == at and state.mine is None:  # the bucket it waits for: book it
            state.tat = max(state.tat, at) + pace.interval * state.factor
            state.mine = at
        elif moment == at:  # its booking came round with another send too close: move it
            state.mine = at
    return 0.0 if at <= now else at


@dataclass
class SyncResult:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    kept: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


@dataclass
class ReapResult:
    returned: list[str] = field(default_factory=list)  # claimed, lease expired: due again
    unknown: list[str] = field(default_factory=list)  # sending, lease expired: outcome unknown


@dataclass(frozen=True)
class PlanRecord:
    plan_id: str
    text: str
    digest: str
    updated: float
    source: str = ""
    # The end of what the due index holds of this plan (the rolling horizon); None when
    # the whole timeline was scheduled.
    horizon: float | None = None


class Store(ABC):
    """The contract both backends keep. Every state change is a compare-and-set."""

    # -- plans ---------------------------------------------------------------------------

    @abstractmethod
    def plan(self, plan_id: str) -> PlanRecord | None: ...

    @abstractmethod
    def plan_digest(self, plan_id: str) -> str | None:
        """The digest of the registered plan text (cheap: checked on every delivery)."""

    @abstractmethod
    def plan_digests(self, plan_ids: list[str]) -> dict[str, str]:
        """The digests of many plans in one round trip (unregistered ones left out)."""

    @abstractmethod
    def plan_ids(self) -> list[str]: ...

    @abstractmethod
    def sync(self, record: PlanRecord, items: list[Item], now: float, grace: float) -> SyncResult:
        """Make the plan's scheduled items exactly ``items``, atomically.

        New keys enter the due index (or ``expired`` when due more than ``grace``
        seconds ago); keys no longer scheduled leave it (``cancelled``) unless they
        are already sending or done; unchanged keys are untouched. The plan text is
        saved in the same step.
        """

    # -- due index and ledger -------------------------------------------------------------

    @abstractmethod
    def schedule(self, items: list[Item]) -> list[str]:
        """Add engine items whose key is not known yet; return the keys added."""

    @abstractmethod
    def claim(self, now: float, limit: int, lease: float) -> list[Claim]:
        """Atomically take up to ``limit`` items due at ``now`` with a lease of ``lease`` s."""

    @abstractmethod
    def begin(self, claim: Claim, now: float, lease: float) -> Item | None:
        """``claimed -> sending`` if this claim still holds; the item, or None."""

    @abstractmethod
    def finish(
        self,
        claim: Claim,
        state: str,
        now: float,
        detail: str = "",
        subject: str = "",
        channel: str | None = None,
        follow_up: str = "",
    ) -> bool:
        """``sending -> sent | failed | unknown`` for the holder of the claim.

        ``follow_up`` names what must still happen about the outcome (``unknown``,
        ``failed``, ``channel_failed``: a re-send or a notice to the lead). It is
        recorded in the same step as the move, so a worker that dies right after
        leaves it to the reaper instead of losing it (see ``follow_ups``).
        """

    @abstractmethod
    def retry(
        self,
        claim: Claim,
        due: float,
        detail: str,
        channel: str | None = None,
        *,
        counted: bool = True,
    ) -> bool:
        """``sending -> due`` at ``due`` (a backoff), one more attempt counted unless
        ``counted`` is false (waiting for something else than the channel to work)."""

    @abstractmethod
    def settle(self, claims: list[Claim], now: float, details: dict[str, str]) -> list[str]:
        """``claimed -> sent`` for engine steps done in a batch; the keys whose claim held.

        Steps (closing a check-in window, closing a plan) are idempotent, so they skip
        ``sending``: running one twice after a crash changes nothing.
        """

    @abstractmethod
    def get_many(self, keys: list[str]) -> list[Item]:
        """The items with these keys (unknown keys are left out), in the order given."""

    @abstractmethod
    def release(self, claim: Claim) -> bool:
        """``claimed -> due`` at its due time: a claim the worker decided not to use yet."""

    @abstractmethod
    def reap(self, now: float, limit: int = 1000) -> ReapResult:
        """Expired leases: ``claimed -> due`` and ``sending -> unknown``; each new
        ``unknown`` gets its follow-up recorded in the same step."""

    @abstractmethod
    def follow_ups(self, limit: int = 1000) -> list[tuple[str, str]]:
        """Outcomes still to be acted on: ``(key, mark)``, the mark being
        ``<problem>:<attempts>`` as recorded by ``finish`` or ``reap``; at most
        ``limit`` of them (which ones, when there are more, is the backend's choice),
        sorted by key."""

    @abstractmethod
    def followed_up(self, key: str, mark: str) -> bool:
        """Forget the follow-up of ``key`` if it is still ``mark`` (a newer outcome of
        the same item, after a re-send, keeps its own)."""

    @abstractmethod
    def requeue(self, key: str, expect: str, due: float, detail: str) -> bool:
        """``expect -> due`` (e.g. an ``unknown`` e-mail that may be re-sent)."""

    @abstractmethod
    def get(self, key: str) -> Item | None: ...

    @abstractmethod
    def items(self, plan_id: str, states: tuple[str, ...] | None = None) -> list[Item]: ...

    @abstractmethod
    def counts(self, plan_id: str | None = None) -> dict[str, int]: ...

    @abstractmethod
    def next_due(self, limit: int, plan_id: str | None = None) -> list[Item]: ...

    @abstractmethod
    def next_due_time(self) -> float | None:
        """The due time of the earliest item in the due index (what a virtual clock jumps to)."""

    # -- pacing (GCRA: one theoretical arrival time per bucket) -----------------------------

    @abstractmethod
    def take_slot(self, paces: list[Pace], now: float, key: str) -> float:
        """One send of the item ``key`` in every bucket of ``paces``, atomically: 0.0 when it
        may go now, else the moment it may go, booked for it in each busy bucket (so a burst
        of N waits N slots and each item is tried once more, not N times).

        The moment is the latest any bucket allows (none before a bucket's hold); only the
        bucket(s) that set it book it. Another bucket books nothing for a message that must
        wait for a slower one (the Telegram bot for a busy chat): it takes its slot when
        the message goes, so it never idles for a message still waiting. A booking is used
        up when its item asks again at or after it; ``narrow_slot`` drops it, and the item
        books anew.
        """

    @abstractmethod
    def narrow_slot(self, paces: list[Pace], now: float, hold_until: float, factor: float) -> None:
        """The service said "too fast": nothing goes before ``hold_until`` (Retry-After),
        and each bucket's interval is multiplied by ``factor``, at most ``NARROW_CAP`` times
        the rule's. Every booking in the buckets is dropped (it was spaced for the old
        interval): those items book again, at the new one, when they come due."""

    # -- calendar revisions -------------------------------------------------------------

    @abstractmethod
    def revise(self, uid: str, digest: str) -> tuple[int, bool]:
        """Record the digest of a calendar object: (SEQUENCE, changed). New UIDs start at 0;
        SEQUENCE rises by one only when the digest changes, and never falls."""

    def revise_all(self, pairs: list[tuple[str, str]]) -> list[tuple[int, bool]]:
        """``revise`` for many (uid, digest) pairs, in order; a store may do it in one
        round trip."""
        return [self.revise(uid, digest) for uid, digest in pairs]

    @abstractmethod
    def revision(self, uid: str) -> tuple[int, str] | None: ...

    # -- records and once-flags ----------------------------------------------------------

    @abstractmethod
    def put_record(
        self, collection: str, record_id: str, data: dict[str, Any], only_if_absent: bool = False
    ) -> bool: ...

    @abstractmethod
    def put_records(
        self, records: dict[str, dict[str, dict[str, Any]]], only_if_absent: bool = False
    ) -> dict[str, list[str]]:
        """Write many records of many collections (collection -> id -> data) in one round
        trip; per collection, the ids written."""

    @abstractmethod
    def records_of(self, collections: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """The records of several collections in one round trip."""

    @abstractmethod
    def get_record(self, collection: str, record_id: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def put_record_once(
        self, collection: str, record_id: str, data: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Insert the record if there is none: None when inserted, else the record that is
        there (one round trip for what ``put_record(only_if_absent)`` + ``get_record`` do)."""

    @abstractmethod
    def update_record(
        self,
        collection: str,
        record_id: str,
        expect: dict[str, Any],
        changes: dict[str, Any],
        seen: dict[str, Any] | None = None,
    ) -> bool:
        """Apply ``changes`` only if every field in ``expect`` has that value now.

        ``seen``, the record as the caller just read it, is a hint: a backend may try
        it first instead of reading again (the outcome is the same)."""

    @abstractmethod
    def records(self, collection: str) -> dict[str, dict[str, Any]]: ...

    @abstractmethod
    def once(self, name: str) -> bool:
        """True for the first caller with this name, false for every later one."""

    # -- erasure (docs/architecture.md §17) --------------------------------------------

    @abstractmethod
    def cancel(self, keys: list[str]) -> list[str]:
        """``due | claimed -> cancelled`` for these keys; the keys cancelled.

        A claim taken before is void: its ``begin`` finds the item no longer claimed.
        An item already ``sending`` is left to finish (it is on the wire)."""

    @abstractmethod
    def rewrite(self, items: list[Item]) -> list[str]:
        """Replace every stored field of each item that is not open (not due, claimed or
        sending) and still in the state given, keeping its key and plan; the keys
        rewritten. What erasure pseudonymises a delivery with."""

    @abstractmethod
    def delete_plan(self, plan_id: str) -> int:
        """Remove the plan's record and every item of it (from the due index, the leases
        and the follow-ups too); the number of items removed."""

    @abstractmethod
    def delete_records(self, collection: str, record_ids: list[str] | None = None) -> int:
        """Remove these records of ``collection`` (all of them when None); how many went."""

    def compact(self) -> None:  # noqa: B027 - nothing to do for a backend that frees at once
        """Give back the space of deleted data, and leave none of its bytes on disk."""

    def close(self) -> None:  # noqa: B027 - optional for backends without connections
        """Release connections."""
