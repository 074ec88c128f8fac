"""One contract, run against every store (SQLite in a temp folder, Redis on its own server)."""

from __future__ import annotations

import threading
from collections import Counter

from worker.store.base import Claim, Item, PlanRecord, Store

NOW = 1_800_000_000.0


def item(
    key: str, due: float = NOW, plan: str = "p", kind: str = "reminder", **extra: object
) -> Item:
    return Item(
        key=key,
        plan_id=plan,
        kind=kind,
        due=due,
        ref="m",
        recipient="ana",
        channel="email",
        data={"offset": "1d", "n": 1.5},
        **extra,
    )  # type: ignore[arg-type]


def record(plan: str = "p", text: str = "version: 1") -> PlanRecord:
    return PlanRecord(plan, text, f"digest-{len(text)}", NOW, "plans/p.yaml")


def sync(
    store: Store, *items: Item, now: float = NOW, grace: float = 60.0
) -> tuple[list[str], list[str], list[str], int]:
    result = store.sync(record(), list(items), now, grace)
    return sorted(result.added), sorted(result.removed), sorted(result.expired), result.kept


# -- plans and sync ------------------------------------------------------------------


def test_sync_saves_the_plan_and_adds_items(store: Store) -> None:
    assert sync(store, item("a"), item("b", NOW + 10)) == (["a", "b"], [], [], 0)
    saved = store.plan("p")
    assert saved is not None and saved.text == "version: 1" and saved.source == "plans/p.yaml"
    assert store.plan_ids() == ["p"]
    assert store.plan("nope") is None
    store.sync(record("q", "version: 1\n# q"), [], NOW, 60.0)
    assert store.plan_digests(["q", "nope", "p"]) == {"p": "digest-10", "q": "digest-14"}
    assert store.plan_digests([]) == {}
    got = store.get("a")
    assert got is not None
    assert (got.state, got.kind, got.recipient, got.data) == (
        "due",
        "reminder",
        "ana",
        {"offset": "1d", "n": 1.5},
    )


def test_sync_of_the_same_items_changes_nothing(store: Store) -> None:
    sync(store, item("a"), item("b"))
    assert sync(store, item("a"), item("b")) == ([], [], [], 2)


def test_vanished_keys_are_cancelled_and_never_claimed(store: Store) -> None:
    sync(store, item("a"), item("b"))
    assert sync(store, item("a")) == ([], ["b"], [], 1)
    b = store.get("b")
    assert b is not None and b.state == "cancelled"
    assert [c.key for c in store.claim(NOW, 10, 60)] == ["a"]


def test_a_claimed_key_that_vanishes_cannot_begin(store: Store) -> None:
    sync(store, item("a"))
    (claim,) = store.claim(NOW, 10, 60)
    sync(store)
    assert store.begin(claim, NOW, 60) is None
    a = store.get("a")
    assert a is not None and a.state == "cancelled"


def test_a_key_that_comes_back_is_due_again_but_a_sent_one_is_not(store: Store) -> None:
    sync(store, item("a"), item("b"))
    claim = next(c for c in store.claim(NOW, 10, 60) if c.key == "b")
    store.begin(claim, NOW, 60)
    store.finish(claim, "sent", NOW)
    sync(store)  # both vanish: a is cancelled, b was sent and stays sent
    b = store.get("b")
    assert b is not None and b.state == "sent"
    assert sync(store, item("a"), item("b")) == (["a"], [], [], 1)
    b = store.get("b")
    assert b is not None and b.state == "sent"


def test_items_already_past_at_sync_are_expired_not_sent(store: Store) -> None:
    assert sync(store, item("old", NOW - 3600), item("recent", NOW - 30), item("new", NOW + 5)) == (
        ["new", "recent"],
        [],
        ["old"],
        0,
    )
    assert sorted(c.key for c in store.claim(NOW + 5, 10, 60)) == ["new", "recent"]
    old = store.get("old")
    assert old is not None and old.state == "expired"


# -- claim, begin, finish ---------------------------------------------------------------


def test_claim_takes_only_what_is_due_in_due_order_up_to_the_limit(store: Store) -> None:
    sync(store, item("late", NOW + 100), item("b", NOW - 5), item("a", NOW - 10), item("c", NOW))
    claims = store.claim(NOW, 2, 60)
    assert [c.key for c in claims] == ["a", "b"]
    assert [c.key for c in store.claim(NOW, 10, 60)] == ["c"]
    assert store.claim(NOW, 10, 60) == []
    assert store.next_due_time() == NOW + 100


def test_the_ledger_moves_only_for_the_holder_of_the_claim(store: Store) -> None:
    sync(store, item("a"))
    (claim,) = store.claim(NOW, 10, 60)
    forged = Claim("a", "not-the-token")
    assert store.begin(forged, NOW, 60) is None
    started = store.begin(claim, NOW, 60)
    assert started is not None and started.state == "sending" and started.data["n"] == 1.5
    assert store.begin(claim, NOW, 60) is None  # a second worker with the same claim
    assert not store.finish(forged, "sent", NOW)
    assert store.finish(claim, "sent", NOW + 1, detail="ok", subject="Hello", channel="sms")
    assert not store.finish(claim, "sent", NOW + 2)
    done = store.get("a")
    assert done is not None
    assert (done.state, done.subject, done.channel_used, done.sent_at) == (
        "sent",
        "Hello",
        "sms",
        NOW + 1,
    )


def test_retry_puts_the_key_back_later_with_one_more_attempt(store: Store) -> None:
    sync(store, item("a"))
    (claim,) = store.claim(NOW, 10, 60)
    store.begin(claim, NOW, 60)
    assert store.retry(claim, NOW + 30, "transient: HTTP 429", channel="email")
    assert not store.retry(claim, NOW + 30, "again")
    assert store.claim(NOW + 29, 10, 60) == []
    (again,) = store.claim(NOW + 30, 10, 60)
    retried = store.begin(again, NOW + 30, 60)
    assert retried is not None and retried.attempts == 1 and retried.detail.startswith("trans")


def test_a_retry_that_is_not_counted_keeps_the_attempts(store: Store) -> None:
    """Waiting for an unreadable plan is no attempt: a fixed plan still gets every retry."""
    sync(store, item("a"))
    (claim,) = store.claim(NOW, 10, 60)
    store.begin(claim, NOW, 60)
    assert store.retry(claim, NOW + 300, "waiting: the plan cannot be read", counted=False)
    (again,) = store.claim(NOW + 300, 10, 60)
    waited = store.begin(again, NOW + 300, 60)
    assert waited is not None and waited.attempts == 0 and waited.detail.startswith("waiting")


def test_release_returns_a_claim_unused(store: Store) -> None:
    sync(store, item("a"))
    (claim,) = store.claim(NOW, 10, 60)
    assert store.release(claim)
    assert not store.release(claim)
    assert [c.key for c in store.claim(NOW, 10, 60)] == ["a"]


def test_reap_returns_expired_claims_and_marks_stuck_sends_unknown(store: Store) -> None:
    sync(store, item("claimed"), item("sending"), item("fresh"))
    claims = {c.key: c for c in store.claim(NOW, 10, 60)}
    store.begin(claims["sending"], NOW, 60)
    fresh = store.claim(NOW, 10, 60)
    assert fresh == []
    assert store.reap(NOW + 30).returned == []
    result = store.reap(NOW + 61)
    assert sorted(result.returned) == ["claimed", "fresh"]
    assert result.unknown == ["sending"]
    unknown = store.get("sending")
    assert unknown is not None and unknown.state == "unknown"
    assert not store.finish(claims["sending"], "sent", NOW + 62)  # the dead worker's claim
    assert store.requeue("sending", "unknown", NOW + 70, "re-sent: e-mail de-duplicates")
    assert not store.requeue("sending", "unknown", NOW + 70, "twice")
    assert sorted(c.key for c in store.claim(NOW + 70, 10, 60)) == ["claimed", "fresh", "sending"]


def test_an_outcome_to_act_on_is_recorded_with_the_move(store: Store) -> None:
    """``finish`` and ``reap`` record the follow-up in the same step as the state;
    it stays until acted on, and a stale mark does not clear a newer outcome."""
    sync(store, item("gone-quiet"), item("refused"), item("fine"))
    claims = {c.key: c for c in store.claim(NOW, 10, 60)}
    for claim in claims.values():
        store.begin(claim, NOW, 60)
    assert store.finish(claims["refused"], "failed", NOW, "HTTP 404", follow_up="channel_failed")
    assert store.finish(claims["fine"], "sent", NOW)
    assert not store.finish(claims["fine"], "failed", NOW, follow_up="failed")  # claim gone
    assert store.reap(NOW + 61).unknown == ["gone-quiet"]
    both = [("gone-quiet", "unknown:0"), ("refused", "channel_failed:0")]
    assert store.follow_ups() == both  # sorted by key
    assert len(store.follow_ups(limit=1)) == 1 and store.follow_ups(limit=1)[0] in both
    # Re-sent (one attempt more) and unknown again before the first mark was cleared.
    assert store.requeue("gone-quiet", "unknown", NOW + 62, "re-sent")
    (again,) = store.claim(NOW + 62, 10, 60)
    store.begin(again, NOW + 62, 60)
    assert store.finish(again, "unknown", NOW + 63, "timeout", follow_up="unknown")
    assert not store.followed_up("gone-quiet", "unknown:0")
    assert store.followed_up("gone-quiet", "unknown:1")
    assert store.followed_up("refused", "channel_failed:0")
    assert not store.followed_up("refused", "channel_failed:0")
    assert store.follow_ups() == []


def test_schedule_adds_engine_items_once(store: Store) -> None:
    warning = item("w", kind="warning", origin="engine")
    assert store.schedule([warning]) == ["w"]
    assert store.schedule([warning]) == []
    sync(store, item("a"))  # a sync never removes engine items
    w = store.get("w")
    assert w is not None and w.state == "due" and w.origin == "engine"
    assert sorted(i.key for i in store.items("p")) == ["a", "w"]


def test_queries_for_status(store: Store) -> None:
    sync(store, item("a"), item("b", NOW + 5), item("c", NOW + 10), item("gone", NOW + 20))
    sync(store, item("a"), item("b", NOW + 5), item("c", NOW + 10))
    claim = store.claim(NOW, 1, 60)[0]
    store.begin(claim, NOW, 60)
    store.finish(claim, "failed", NOW, detail="permanent: HTTP 404")
    assert store.counts("p") == {"failed": 1, "due": 2, "cancelled": 1}
    assert store.counts() == {"failed": 1, "due": 2, "cancelled": 1}
    assert [i.key for i in store.next_due(5, "p")] == ["b", "c"]
    assert [i.key for i in store.items("p", ("failed",))] == ["a"]
    assert store.next_due(5, "other") == []


# -- revisions, records, once ----------------------------------------------------------------


def test_sequence_rises_only_on_change_and_never_falls(store: Store) -> None:
    assert store.revision("uid") is None
    assert store.revise("uid", "h1") == (0, True)
    assert store.revise("uid", "h1") == (0, False)
    assert store.revise("uid", "h2") == (1, True)
    assert store.revise("uid", "h1") == (2, True)
    assert store.revision("uid") == (2, "h1")


def test_many_revisions_at_once_answer_as_one_by_one(store: Store) -> None:
    store.revise("a", "h1")
    pairs = [("a", "h1"), ("b", "h1"), ("a", "h2"), ("b", "h1"), ("a", "h1")]
    assert store.revise_all(pairs) == [(0, False), (0, True), (1, True), (0, False), (2, True)]
    assert (store.revision("a"), store.revision("b")) == ((2, "h1"), (0, "h1"))
    assert store.revise_all([]) == []


def test_records_insert_once_and_compare_and_set(store: Store) -> None:
    assert store.put_record(
        "checkins:p", "ana/2027-01-11", {"state": "pending", "n": 0}, only_if_absent=True
    )
    assert not store.put_record("checkins:p", "ana/2027-01-11", {"state": "x"}, only_if_absent=True)
    assert store.update_record(
        "checkins:p", "ana/2027-01-11", {"state": "pending"}, {"state": "answered", "at": 1.25}
    )
    assert not store.update_record(
        "checkins:p", "ana/2027-01-11", {"state": "pending"}, {"state": "late"}
    )
    assert not store.update_record("checkins:p", "missing", {}, {"state": "x"})
    assert store.get_record("checkins:p", "ana/2027-01-11") == {
        "state": "answered",
        "n": 0,
        "at": 1.25,
    }
    store.put_record("checkins:p", "bram/2027-01-11", {"state": "pending"})
    assert list(store.records("checkins:p")) == ["ana/2027-01-11", "bram/2027-01-11"]
    assert store.records("other") == {}


def test_put_once_returns_what_is_there_and_a_stale_hint_changes_nothing(store: Store) -> None:
    first = {"state": "answered", "revision": 0, "note": "é, ✓", "at": 1799999999.123456}
    assert store.put_record_once("checkins:p", "ana", first) is None
    seen = store.put_record_once("checkins:p", "ana", {"state": "x", "revision": 9})
    assert seen == first
    # With the record as read: one swap.
    assert store.update_record("checkins:p", "ana", {"revision": 0}, {"revision": 1}, seen)
    # The same hint again is stale now: the store decides on the record as it is.
    assert not store.update_record("checkins:p", "ana", {"revision": 0}, {"revision": 2}, seen)
    assert store.update_record("checkins:p", "ana", {"revision": 1}, {"note": "again"}, seen)
    assert store.get_record("checkins:p", "ana") == {**first, "revision": 1, "note": "again"}
    assert not store.update_record("checkins:p", "gone", {}, {"state": "x"}, seen)


def test_once_is_true_for_the_first_caller_only(store: Store) -> None:
    assert store.once("close:p")
    assert not store.once("close:p")
    assert store.once("close:q")


# -- races ---------------------------------------------------------------------------------


def test_concurrent_claims_and_updates_hand_out_each_key_once(store: Store) -> None:
    sync(store, *(item(f"k{n:03d}", NOW - n / 10) for n in range(300)))
    store.put_record("counter", "c", {"n": 0})
    taken: list[str] = []
    rounds: list[int] = []
    lock = threading.Lock()

    def sweeper() -> None:
        while claims := store.claim(NOW, 7, 60):
            for claim in claims:
                if store.begin(claim, NOW, 60) and store.finish(claim, "sent", NOW):
                    with lock:
                        taken.append(claim.key)
            with lock:
                rounds.append(1)
            for _ in range(3):
                while True:
                    current = store.get_record("counter", "c")
                    assert current is not None
                    if store.update_record(
                        "counter", "c", {"n": current["n"]}, {"n": current["n"] + 1}
                    ):
                        break

    threads = [threading.Thread(target=sweeper) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(taken) == Counter(f"k{n:03d}" for n in range(300))
    counter = store.get_record("counter", "c")
    assert counter is not None
    assert counter["n"] == 3 * len(rounds)  # no increment lost to a racing writer


# -- batches: claims know their kind, steps settle together, records go in one trip -------


def test_claims_carry_the_kind_and_steps_settle_in_a_batch(store: Store) -> None:
    sync(store, item("r"), item("c1", kind="checkin_close"), item("c2", kind="checkin_close"))
    claims = {c.key: c for c in store.claim(NOW, 10, 60)}
    assert {key: c.kind for key, c in claims.items()} == {
        "r": "reminder",
        "c1": "checkin_close",
        "c2": "checkin_close",
    }
    steps = [claims["c1"], claims["c2"], Claim("r", "forged", "reminder")]
    assert store.settle(steps, NOW + 1, {"c1": "missed", "c2": "answered"}) == ["c1", "c2"]
    assert store.settle(steps, NOW + 2, {}) == []  # settled once
    got = {i.key: i for i in store.get_many(["c2", "nope", "c1", "r"])}
    assert list(got) == ["c2", "c1", "r"]
    assert (got["c1"].state, got["c1"].detail, got["c1"].sent_at) == ("sent", "missed", NOW + 1)
    assert got["r"].state == "claimed"
    assert store.reap(NOW + 61).returned == ["r"]  # settled steps hold no lease


def test_put_and_read_records_of_many_collections_in_one_trip(store: Store) -> None:
    store.put_record("rows", "a", {"state": "answered"})
    written = store.put_records(
        {"rows": {"a": {"state": "missed"}, "b": {"state": "missed"}}, "more": {"c": {"n": 1}}},
        only_if_absent=True,
    )
    assert written == {"rows": ["b"], "more": ["c"]}
    assert store.records_of(["rows", "more", "none"]) == {
        "rows": {"a": {"state": "answered"}, "b": {"state": "missed"}},
        "more": {"c": {"n": 1}},
        "none": {},
    }
    assert store.put_records({"rows": {"a": {"state": "late"}}}) == {"rows": ["a"]}
    assert store.get_record("rows", "a") == {"state": "late"}


# -- erasure ----------------------------------------------------------------------------


def test_cancel_takes_due_and_claimed_items_out_and_voids_the_claim(store: Store) -> None:
    sync(store, item("a"), item("b"), item("c"), item("d", due=NOW + 3600))
    claims = {c.key: c for c in store.claim(NOW, 2, 60.0)}
    assert set(claims) == {"a", "b"}
    sending = store.begin(claims["b"], NOW, 60.0)
    assert sending is not None

    assert sorted(store.cancel(["a", "b", "c", "d", "unknown"])) == ["a", "c", "d"]
    assert store.begin(claims["a"], NOW, 60.0) is None  # the claim was voided
    assert {k: store.get(k).state for k in "abcd"} == {  # type: ignore[union-attr]
        "a": "cancelled",
        "b": "sending",  # on the wire: left to finish
        "c": "cancelled",
        "d": "cancelled",
    }
    assert store.claim(NOW + 7200, 10, 60.0) == []
    assert store.next_due_time() is None
    assert store.cancel(["a"]) == []  # once


def test_rewrite_replaces_finished_items_only_and_only_in_the_state_given(store: Store) -> None:
    sync(store, item("a"), item("b"), item("c", due=NOW + 3600))
    for claim in store.claim(NOW, 10, 60.0):
        assert store.begin(claim, NOW, 60.0) is not None
        store.finish(claim, "sent" if claim.key == "a" else "failed", NOW, "to ana@x.example")
    done = {key: store.get(key) for key in ("a", "b", "c")}
    scrubbed = []
    for found in done.values():
        assert found is not None
        found.recipient, found.detail, found.subject, found.data = "erased-1", "", "", {}
        scrubbed.append(found)
    stale = store.get("b")
    assert stale is not None
    stale.state = "sent"  # not what the ledger holds: refused
    stale.recipient = "someone"

    assert store.rewrite([*scrubbed[:1], stale, scrubbed[2]]) == ["a"]
    assert store.rewrite(scrubbed[1:2]) == ["b"]
    a, b, c = (store.get(key) for key in ("a", "b", "c"))
    assert a is not None and b is not None and c is not None
    assert (a.recipient, a.detail, a.data, a.state) == ("erased-1", "", {}, "sent")
    assert (b.recipient, b.state) == ("erased-1", "failed")
    assert (c.recipient, c.state) == ("ana", "due")  # open: never rewritten
    assert store.counts("p") == {"sent": 1, "failed": 1, "due": 1}


def test_delete_plan_removes_its_record_and_every_item_and_nothing_else(store: Store) -> None:
    sync(store, item("a"), item("b", due=NOW + 60))
    store.schedule([item("n", plan="p", kind="notice", origin="engine")])
    other = PlanRecord("q", "version: 1", "d", NOW, "")
    store.sync(other, [item("q1", plan="q", due=NOW + 120)], NOW, 60.0)
    [claim] = [c for c in store.claim(NOW, 10, 60.0) if c.key == "a"]
    assert store.begin(claim, NOW, 60.0) is not None
    store.finish(claim, "unknown", NOW, follow_up="unknown")
    assert [key for key, _ in store.follow_ups()] == ["a"]

    assert store.delete_plan("p") == 3
    assert store.plan("p") is None
    assert store.plan_ids() == ["q"]
    assert store.items("p") == [] and store.get("a") is None and store.get("n") is None
    assert store.follow_ups() == []
    assert [i.key for i in store.next_due(10)] == ["q1"]
    assert store.counts("q") == {"due": 1}
    assert store.delete_plan("p") == 0
    store.compact()
    assert store.get("q1") is not None


def test_delete_records_by_id_or_the_whole_collection(store: Store) -> None:
    store.put_records({"c": {"1": {"v": 1}, "2": {"v": 2}, "3": {"v": 3}}, "d": {"1": {"v": 1}}})
    assert store.delete_records("c", ["1", "9"]) == 1
    assert store.delete_records("c", []) == 0
    assert sorted(store.records("c")) == ["2", "3"]
    assert store.delete_records("c") == 2
    assert store.records("c") == {} and store.records("d") == {"1": {"v": 1}}
    assert store.delete_records("c") == 0
