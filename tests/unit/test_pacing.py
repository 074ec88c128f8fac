"""Pacing per destination: the GCRA slot in both stores, the buckets' names, the setting.

Every store test runs against SQLite and a real redis-server (tests/conftest.py ``store``).
"""

from __future__ import annotations

import itertools

import pytest

from config.errors import SettingsError
from config.pacing import DEFAULTS, UNPACED, PacingError, Rule, rule, rules
from config.settings import Settings
from connectors.base import destination
from worker.store.base import NARROW_CAP, Pace, Store

NOW = 1_800_000_000.0
SLACK = Pace("slack:a1", 1.0)


def test_a_free_bucket_grants_and_a_busy_one_books_the_next_slot(store: Store) -> None:
    assert store.take_slot([SLACK], NOW, "m1") == 0.0
    assert store.take_slot([SLACK], NOW, "m2") == NOW + 1
    assert store.take_slot([SLACK], NOW, "m3") == NOW + 2
    # Asking again before its slot changes nothing; at its slot it goes without booking anew.
    assert store.take_slot([SLACK], NOW + 0.5, "m2") == NOW + 1
    assert store.take_slot([SLACK], NOW + 1, "m2") == 0.0
    assert store.take_slot([SLACK], NOW + 2, "m3") == 0.0
    assert store.take_slot([SLACK], NOW + 2, "m4") == NOW + 3


def test_bookings_claimed_together_by_a_late_sweep_still_go_an_interval_apart(
    store: Store,
) -> None:
    # m2 and m3 booked the slots NOW+1 and NOW+2; a sweep that ran late claims both at
    # NOW+2.5. m2 goes; m3 would follow a moment later, so it is moved on by one interval.
    assert store.take_slot([SLACK], NOW, "m1") == 0.0
    assert store.take_slot([SLACK], NOW, "m2") == NOW + 1
    assert store.take_slot([SLACK], NOW, "m3") == NOW + 2
    assert store.take_slot([SLACK], NOW + 2.5, "m2") == 0.0
    assert store.take_slot([SLACK], NOW + 2.5, "m3") == NOW + 3.5
    assert store.take_slot([SLACK], NOW + 3.0, "m3") == NOW + 3.5  # the booking moved
    assert store.take_slot([SLACK], NOW + 3.5, "m3") == 0.0
    # A new message queues after the bookings, and after the last send.
    assert store.take_slot([SLACK], NOW + 3.5, "m4") == NOW + 4.5


def test_a_burst_goes_at_once_then_one_per_interval(store: Store) -> None:
    bursty = Pace("slack:b2", 1.0, burst=3)
    assert [store.take_slot([bursty], NOW, f"m{n}") for n in range(4)] == [0, 0, 0, NOW + 1]


def test_buckets_are_apart(store: Store) -> None:
    assert store.take_slot([SLACK], NOW, "m1") == 0.0
    assert store.take_slot([Pace("slack:other", 1.0)], NOW, "m2") == 0.0


def test_a_free_bucket_books_nothing_for_a_message_another_bucket_holds_back(
    store: Store,
) -> None:
    chat, bot = Pace("telegram_chat:c", 1.0), Pace("telegram_bot:b", 1 / 30)
    assert store.take_slot([chat, bot], NOW, "m1") == 0.0
    assert store.take_slot([chat, bot], NOW, "m2") == NOW + 1  # the chat is busy
    # The bot kept its slots: another chat's message goes at once.
    assert store.take_slot([Pace("telegram_chat:d", 1.0), bot], NOW + 0.05, "m3") == 0.0
    assert store.take_slot([chat, bot], NOW + 1, "m2") == 0.0


def test_a_429_holds_until_retry_after_and_narrows(store: Store) -> None:
    assert store.take_slot([SLACK], NOW, "m1") == 0.0
    store.narrow_slot([SLACK], NOW, NOW + 30, 2.0)
    assert store.take_slot([SLACK], NOW + 1, "m2") == NOW + 30  # nothing before Retry-After
    assert store.take_slot([SLACK], NOW + 30, "m2") == 0.0
    assert store.take_slot([SLACK], NOW + 30, "m3") == NOW + 32  # the interval doubled


def test_a_429_without_retry_after_still_waits_one_narrowed_interval(store: Store) -> None:
    assert store.take_slot([SLACK], NOW, "m1") == 0.0
    store.narrow_slot([SLACK], NOW, NOW, 2.0)
    assert store.take_slot([SLACK], NOW, "m2") == NOW + 2


def test_a_429_drops_the_bookings_spaced_for_the_old_interval(store: Store) -> None:
    store.take_slot([SLACK], NOW, "m1")
    assert [store.take_slot([SLACK], NOW, m) for m in ("m2", "m3")] == [NOW + 1, NOW + 2]
    store.narrow_slot([SLACK], NOW + 0.5, NOW + 10, 2.0)
    # m3 comes due first (its old slot), m2 after it: each books anew, 2 s apart.
    assert store.take_slot([SLACK], NOW + 2, "m3") == NOW + 10
    assert store.take_slot([SLACK], NOW + 2.5, "m2") == NOW + 12
    assert store.take_slot([SLACK], NOW + 10, "m3") == 0.0


def test_each_send_widens_back_a_tenth_towards_the_rule(store: Store) -> None:
    store.narrow_slot([SLACK], NOW, NOW, 2.0)  # x2, no hold
    moment, gaps = NOW, []
    for n in range(40):
        at = store.take_slot([SLACK], moment, f"m{n}")
        if at:
            gaps.append(at - moment)
            moment = at
            assert store.take_slot([SLACK], moment, f"m{n}") == 0.0
    # The first slot is one narrowed interval after the 429; each later one is spaced by the
    # interval as it stood when the one before it was booked, and every send that went took
    # a tenth of the excess off: 2, 2, 1.9, 1.81, ...
    assert gaps[:4] == pytest.approx([2.0, 2.0, 1.9, 1.81], abs=1e-6)
    assert gaps[-1] == pytest.approx(1.0, abs=0.05)
    assert all(a >= b for a, b in itertools.pairwise(gaps))


def test_narrowing_stops_at_the_cap(store: Store) -> None:
    for _ in range(10):
        store.narrow_slot([SLACK], NOW, NOW, 2.0)
    store.take_slot([SLACK], NOW, "m1")
    # Widened once by that send: a tenth of the excess over 1 taken off the cap.
    expected = 1 + (NARROW_CAP - 1) * 0.9
    assert store.take_slot([SLACK], NOW, "m2") == pytest.approx(NOW + expected)


def test_an_idle_bucket_is_forgotten(store: Store) -> None:
    store.narrow_slot([SLACK], NOW, NOW + 5, 2.0)
    later = NOW + 3600  # long after the hold and the last slot
    assert store.take_slot([SLACK], later, "m1") == 0.0
    assert store.take_slot([SLACK], later, "m2") == later + 1.0  # the factor is 1 again


def test_a_bucket_name_hides_the_url_token_or_number() -> None:
    url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    found = destination("slack", url)
    assert found.rule == "slack" and found.bucket.startswith("slack:")
    assert "SECRET" not in found.bucket and "hooks" not in found.bucket
    assert destination("slack", url) == found  # every worker names it alike
    assert destination("sms", "+31612345678").bucket != destination("sms", "+31612345679").bucket
    assert "3161" not in destination("sms", "+31612345678").bucket


def test_the_defaults_are_the_documented_limits() -> None:
    assert DEFAULTS["slack"] == Rule(1.0)
    assert DEFAULTS["teams"] == Rule(0.25)
    assert DEFAULTS["telegram_chat"] == Rule(1.0)
    assert DEFAULTS["telegram_bot"] == Rule(1 / 30)
    assert DEFAULTS["sms"] == DEFAULTS["whatsapp"] == Rule(1.0)
    assert DEFAULTS["email"] is DEFAULTS["mattermost"] is DEFAULTS["webhook"] is None


def test_the_setting_overrides_some_rules() -> None:
    chosen = rules("slack=2/s, telegram_chat=0.5/s,email=10/min:5,teams=off")
    assert chosen["slack"] == Rule(0.5)
    assert chosen["telegram_chat"] == Rule(2.0)
    assert chosen["email"] == Rule(6.0, 5)
    assert chosen["teams"] is None
    assert chosen["sms"] == DEFAULTS["sms"]
    assert rules("") == DEFAULTS
    assert set(rules(UNPACED).values()) == {None}
    assert rule("100/h") == Rule(36.0)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("slack", "'slack' is not NAME=RATE"),
        ("slak=1/s", "'slak' is not a destination; known: slack, teams"),
        ("slack=fast", "'fast' is not a rate like 1/s"),
        ("slack=1/day", "'1/day' is not a rate"),
        ("slack=0/s", "'0/s': the rate and the burst must be above 0"),
        ("slack=1/s:0", "'1/s:0': the rate and the burst must be above 0"),
    ],
)
def test_a_bad_setting_says_what_is_wrong(value: str, message: str) -> None:
    with pytest.raises(PacingError, match=message.replace("(", r"\(")):
        rules(value)


def test_a_bad_setting_stops_start_up_with_one_line(tmp_path: object) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings(_env_file=None, pacing="slack=fast", data_dir=tmp_path)  # type: ignore[call-arg]
    assert str(raised.value) == (
        "PACTKEEPER_PACING='slack=fast' is not valid: "
        "'fast' is not a rate like 1/s, 20/min, 100/h, 1/s:3 or off"
    )
