"""Retention on both stores: when a plan is due, a purge that dies half-way, housekeeping,
the report that stays, and every reader of a purged plan (status, sync, the watcher)."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from config.plan import Plan
from tests.engine import make_engine, moment, run_until
from tests.support import minimal_data, plan_from
from worker.checkins.answers import record_checkin
from worker.engine import Engine
from worker.handover.close import bundle_path, close_plan
from worker.kickoff.privacy import erased_on
from worker.plans import watch
from worker.plans.closed import closed_at
from worker.plans.register import PlanPurged, register
from worker.privacy import retention
from worker.privacy.keeping import kept_until, purge_date
from worker.status import plan_status
from worker.store import Store, records

DAY = 86400.0
CLOSE = "2027-02-01 12:00"
NOTE = "my knee hurts, sorry"


def checkin_plan(keep_days: int | None = 30) -> Plan:
    data = minimal_data()
    data["end"] = "2027-02-28"
    data["people"][1]["phone"] = "+31611112222"
    data["checkins"] = {"every": "weekly", "on": "monday", "grace": "2d", "who": ["tim"]}
    data["milestones"] = [{"id": "launch", "title": "Launch", "due": "2027-01-20", "owner": "tim"}]
    if keep_days is not None:
        data["privacy"] = {"keep_days": keep_days}
    return plan_from(data)


def closed_engine(tmp_path: Path, store: Store, plan: Plan) -> Engine:
    engine = make_engine(tmp_path, store)
    register(engine, plan, moment("2027-01-01 00:00"))
    run_until(engine, moment("2027-01-11 09:00"))
    record_checkin(engine, plan, "tim", moment("2027-01-11 10:00"), "need_help", NOTE, source="t")
    run_until(engine, moment("2027-01-30 00:00"))
    close_plan(engine, plan, moment(CLOSE))
    run_until(engine, moment(CLOSE) + 60)
    return engine


def held(engine: Engine, plan: Plan) -> str:
    """Everything the store holds of the plan, as one text."""
    store = engine.store
    rows = store.records_of([*records.plan_collections(plan.id), records.INBOUND_SEEN])
    items = [item.to_row() for item in store.items(plan.id)]
    record = store.plan(plan.id)
    return json.dumps([rows, items, record.text if record else None], default=str)


def test_a_plan_is_due_keep_days_after_its_close(tmp_path: Path, store: Store) -> None:
    plan = checkin_plan(keep_days=30)
    engine = closed_engine(tmp_path, store, plan)
    due = moment(CLOSE) + 30 * DAY
    assert purge_date(engine, plan) == due
    assert retention.due_for_purge(engine, due - 1) == []
    assert retention.due_for_purge(engine, due) == [(plan.id, due)]


def test_a_running_plan_is_reckoned_from_its_scheduled_close(tmp_path: Path, store: Store) -> None:
    plan = checkin_plan(keep_days=None)
    engine = make_engine(tmp_path, store, retention_days=10)
    register(engine, plan, moment("2027-01-01 00:00"))
    found = purge_date(engine, plan)
    assert found is not None and found > moment("2027-02-28 00:00") + 10 * DAY - DAY
    assert retention.due_for_purge(engine, moment("2030-01-01 00:00")) == []  # not closed
    report = plan_status(engine, plan.id, moment("2027-01-05 00:00"))
    assert str(report["data_until"]).startswith("2027-03-1")


def test_purge_erases_the_plan_and_keeps_a_report_without_people(
    tmp_path: Path, store: Store
) -> None:
    plan = checkin_plan()
    engine = closed_engine(tmp_path, store, plan)
    assert NOTE in held(engine, plan) and bundle_path(engine.settings, plan.id).exists()
    before = plan_status(engine, plan.id, moment(CLOSE) + DAY)
    dry = retention.purge(engine, plan.id, moment("2027-04-01 00:00"), dry_run=True)
    assert dry.items > 0 and dry.records > 0 and dry.bundle == 1
    assert NOTE in held(engine, plan), "a dry run erased something"

    done = retention.purge(engine, plan.id, moment("2027-04-01 00:00"))
    assert done.counts() == dry.counts()
    assert store.plan(plan.id) is None and store.items(plan.id) == []
    assert not any(store.records_of(records.plan_collections(plan.id)).values())
    assert NOTE not in held(engine, plan)
    assert not bundle_path(engine.settings, plan.id).exists()
    after = plan_status(engine, plan.id)
    assert after["counts"] == before["counts"]
    assert after["purged"] == "2027-03-31T22:00:00Z"
    text = json.dumps(after)
    for word in ("Tim", "Pia", "tim@team.example", "pia@partner.example", NOTE, "+3161111"):
        assert word not in text
    assert [m["title"] for m in after["milestones"]] == ["Launch"]
    (audit,) = store.records(records.ERASURES).values()
    assert audit["what"] == "purge" and audit["plan"] == plan.id and audit["items"] == done.items
    assert retention.due_for_purge(engine, moment("2030-01-01 00:00")) == []
    assert store.get_record(records.CLOSED, plan.id) is not None


def test_a_purge_that_died_half_way_is_finished_by_the_next(tmp_path: Path, store: Store) -> None:
    plan = checkin_plan()
    engine = closed_engine(tmp_path, store, plan)
    now = moment("2027-04-01 00:00")
    # What the first step leaves when the process dies right after it: the report is kept.
    report = retention.stripped(plan_status(engine, plan.id, now))
    row = {"at": now - DAY, "closed": moment(CLOSE), "report": report}
    store.put_record_once(records.PURGED, plan.id, row)
    assert retention.due_for_purge(engine, now) == [(plan.id, now - DAY)]
    (finished,) = retention.purge_due(engine, now)
    assert finished.items > 0
    assert NOTE not in held(engine, plan)
    assert store.get_record(records.PURGED, plan.id)["at"] == now - DAY  # type: ignore[index]
    assert retention.due_for_purge(engine, now) == []
    assert retention.purge_due(engine, now + DAY) == []
    assert len(store.records(records.ERASURES)) == 1


def test_housekeeping_deletes_old_rate_counters_and_sessions(tmp_path: Path, store: Store) -> None:
    engine = make_engine(tmp_path, store)
    now = moment("2027-03-01 12:30")
    hour = int(now // 3600)
    for back in (0, 1, 2, 30):
        store.put_record(
            records.INBOUND_RATES, records.inbound_rate_id("sms", "+316", hour - back), {"n": 1}
        )
    store.put_record(records.WHATSAPP_SESSIONS, "+31600000001", {"at": now - 23 * 3600})
    store.put_record(records.WHATSAPP_SESSIONS, "+31600000002", {"at": now - 24 * 3600})
    assert retention.housekeeping(engine, now) == 3
    assert sorted(store.records(records.INBOUND_RATES)) == sorted(
        records.inbound_rate_id("sms", "+316", hour - back) for back in (0, 1)
    )
    assert list(store.records(records.WHATSAPP_SESSIONS)) == ["+31600000001"]


def test_a_plan_not_closed_is_not_purged(tmp_path: Path, store: Store) -> None:
    plan = checkin_plan()
    engine = make_engine(tmp_path, store)
    register(engine, plan, moment("2027-01-01 00:00"))
    with pytest.raises(retention.RetentionError, match="not closed"):
        retention.purge(engine, plan.id, moment("2030-01-01 00:00"))
    assert store.plan(plan.id) is not None


def test_a_purged_id_is_refused_by_register_and_once_by_the_watcher(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    plan = checkin_plan()
    engine = closed_engine(tmp_path, store, plan)
    retention.purge(engine, plan.id, moment("2027-04-01 00:00"))
    with pytest.raises(PlanPurged, match="a new partnership needs a new id"):
        register(engine, plan, moment("2027-04-02 00:00"))
    folder = tmp_path / "plans"
    folder.mkdir()
    (folder / "plan.yaml").write_text(plan.text, encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="pactkeeper.watch"):
        assert watch.resync_folder(engine, folder, moment("2027-04-02 00:00")) == []
        watch._seen.clear()  # another process, or the same one after a restart
        assert watch.resync_folder(engine, folder, moment("2027-04-02 00:05")) == []
    said = [r.getMessage() for r in caplog.records if "personal data was erased" in r.getMessage()]
    assert len(said) == 1
    assert store.plan(plan.id) is None and NOTE not in held(engine, plan)


def test_a_rehearsal_folder_is_never_purged(tmp_path: Path, store: Store) -> None:
    plan = checkin_plan()
    engine = closed_engine(tmp_path, store, plan)
    engine.settings.clock_offset = 3600.0
    with pytest.raises(retention.RetentionError, match="real-time data folder only"):
        retention.purge_due(engine, moment("2030-01-01 00:00"))
    assert NOTE in held(engine, plan)


def test_the_beat_purges_daily_but_not_in_a_rehearsal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config.settings import Settings
    from worker.run.app import PURGE_INTERVAL, beat_schedule

    settings = Settings(data_dir=tmp_path, redis_url=None, smtp_host=None, plans_dir=None)
    entry = beat_schedule(settings)["purge"]
    assert entry["task"] == "pactkeeper.purge" and entry["schedule"] == PURGE_INTERVAL
    monkeypatch.setenv("PACTKEEPER_REHEARSAL", "1")
    assert "purge" not in beat_schedule(settings)


def test_the_last_day_kept_is_the_plans_own_day_before_the_purge() -> None:
    # Closed at 00:00 on 1 May in the plan's zone, kept 365 days: the data goes at 00:00
    # on 30 April 2028 there (the day the privacy notice names), so it is kept until the
    # 29th, whatever the zone's distance from UTC.
    plan = checkin_plan(keep_days=365)
    for zone in ("Europe/Amsterdam", "America/New_York", "Pacific/Auckland"):
        local = plan.model_copy(update={"timezone": zone})
        purge = datetime(2028, 4, 30, tzinfo=ZoneInfo(zone)).timestamp()
        assert kept_until(local, purge) == date(2028, 4, 29)
    assert kept_until(plan, None) is None


def test_the_privacy_notice_names_the_day_the_purge_will_run_after_an_early_close(
    tmp_path: Path, store: Store
) -> None:
    plan = checkin_plan(keep_days=30)  # ends 28 February; closed early on 1 February
    engine = closed_engine(tmp_path, store, plan)
    due = purge_date(engine, plan)
    assert due is not None
    closed = closed_at(engine, plan.id)
    notice_day = erased_on(engine.settings, plan, closed)
    assert notice_day == datetime.fromtimestamp(due, ZoneInfo(plan.timezone)).date()
    assert notice_day == date(2027, 3, 3)  # 1 February 12:00 + 30 days
    assert erased_on(engine.settings, plan) == date(2027, 3, 31)  # as scheduled: 1 March + 30
