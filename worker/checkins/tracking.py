"""Check-in windows as people see them: the stored rows and the plan's rhythm together.

A window is a row in the records collection ``checkins:<plan>``, id
``<person>/<YYYY-MM-DD>``, stored when something happens to it: an answer
(``answered`` inside the window, ``late`` after it closed) or its close without
one (``missed``). ``pending`` (open, no answer yet) and ``excused`` (a pause or
an away day: no window opened) are what the plan says, so they are derived and
follow a plan edit at once. A closed window whose close the engine never
tracked (it lay before the plan was registered), or whose request never reached
the person (it expired at registration, failed or was cancelled), is
``untracked`` and counts for nothing: it starts no ladder.

Store reads only (the ledger states behind ``Tracking``); the rows themselves are
handed in. ``worker/checkins/windows.py`` holds the pure ``Window`` value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from config.plan import Plan
from worker import timeline
from worker.checkins.rhythm import Slot, rhythm
from worker.checkins.windows import Window
from worker.store import Store

TRACKED = ("due", "claimed", "sending", "sent", "failed", "unknown")  # a close the engine runs
NEVER_SENT = ("expired", "failed", "cancelled")  # a request that never reached the person


def _window(row: Mapping[str, Any]) -> Window:
    return Window(
        person=str(row["person"]),
        day=str(row["window"]),
        opens=float(row["opens"]),
        closes=float(row["closes"]),
        state=str(row["state"]),
        status=row.get("status"),
        note=str(row.get("note") or ""),
        answered_at=row.get("answered_at"),
        source=row.get("source"),
        answers=tuple((str(q), str(a)) for q, a in row.get("answers") or ()),
    )


Tracked = Callable[[str, str], bool]


class Tracking:
    """Whether a closed window without a row counts, looked up only if needed.

    Needed only for a closed window without a row. It counts (as missed) when the
    engine runs its ``checkin_close`` and its request (the ``checkin_open``) went or
    is on its way. It counts for nothing (``untracked``) when the close was never
    tracked (the plan was registered after it) or the request is known never to have
    reached the person (expired at registration, failed, cancelled): nobody can miss
    a request they never got. Both keys are computed from the window, so one small
    read answers it, however many items the plan has.
    """

    def __init__(self, store: Store, plan: Plan) -> None:
        self.store = store
        self.plan = plan
        self._known: dict[tuple[str, str], bool] = {}

    def __call__(self, person_id: str, day: str) -> bool:
        if (person_id, day) not in self._known:
            self.prefetch([(person_id, day)])
        return self._known[(person_id, day)]

    def prefetch(self, windows: Iterable[tuple[str, str]]) -> None:
        """Look up many windows in one round trip."""
        prefetch(self.store, [(self, windows)])

    def unknown(self, windows: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
        """The item keys to read for the windows not looked up yet."""
        wanted: dict[tuple[str, str], list[str]] = {}
        for window in windows:
            if window in self._known or window in wanted:
                continue
            keys = self._keys(*window)
            if keys is None:
                self._known[window] = False
            else:
                wanted[window] = list(keys)
        return wanted

    def learn(self, wanted: Mapping[tuple[str, str], list[str]], states: Mapping[str, str]) -> None:
        for window, (close, request) in wanted.items():
            self._known[window] = (
                states.get(close) in TRACKED and states.get(request) not in NEVER_SENT
            )

    def _keys(self, person_id: str, day: str) -> tuple[str, str] | None:
        """The keys of the window's ``checkin_close`` and ``checkin_open`` items."""
        slot = rhythm(self.plan).slot(person_id, day)
        if slot is None:
            return None
        channel = self.plan.person(person_id).channels[0]
        closes = datetime.fromtimestamp(slot.closes, UTC)
        opens = datetime.fromtimestamp(slot.opens, UTC)
        return (
            timeline.occurrence_key(self.plan.id, "checkin_close", day, person_id, None, closes),
            timeline.occurrence_key(self.plan.id, "checkin_open", day, person_id, channel, opens),
        )


def prefetch(store: Store, lookups: Sequence[tuple[Tracking, Iterable[tuple[str, str]]]]) -> None:
    """Look up the windows of many plans in one round trip."""
    wanted = [(tracking, tracking.unknown(windows)) for tracking, windows in lookups]
    keys = [key for _, found in wanted for pair in found.values() for key in pair]
    if not keys:
        return
    states = {item.key: item.state for item in store.get_many(keys)}
    for tracking, found in wanted:
        tracking.learn(found, states)


def windows_of(
    plan: Plan,
    person_id: str,
    rows: Mapping[str, Mapping[str, Any]],
    now: float,
    tracked: Tracked,
) -> list[Window]:
    """A person's windows that have opened by ``now`` (and excused days), in order.

    ``rows`` are the person's stored rows by day; rows for days the plan no
    longer schedules stay (they are history).
    """
    schedule = rhythm(plan)
    found: dict[str, Window] = {day: _window(row) for day, row in rows.items()}
    for slot in schedule.slots.get(person_id, ()):
        if slot.opens > now:
            break
        if slot.day not in found:
            found[slot.day] = _unstored(slot, now, tracked)
    for day, would_open, why in schedule.excused.get(person_id, ()):
        if would_open <= now and day not in found:
            found[day] = Window(person_id, day, would_open, would_open, "excused", excuse=why)
    return sorted(found.values(), key=lambda w: (w.opens, w.day))


def _unstored(slot: Slot, now: float, tracked: Tracked) -> Window:
    if now < slot.closes:
        state = "pending"
    else:
        state = "missed" if tracked(slot.person, slot.day) else "untracked"
    return Window(slot.person, slot.day, slot.opens, slot.closes, state)


def group_rows(rows: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Mapping[str, Any]]]:
    """Stored rows by person, then by day."""
    grouped: dict[str, dict[str, Mapping[str, Any]]] = {}
    for key, row in rows.items():
        person_id, _, day = key.partition("/")
        grouped.setdefault(person_id, {})[day] = row
    return grouped
