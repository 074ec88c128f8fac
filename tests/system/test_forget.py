"""export and forget: every row of a person that a direct query of the store finds is in
the export; after forget none is left, nothing more reaches them, and a sync of the plan
file that still names them does not bring them back. Both stores, driven through the
engine's plain functions on a real SQLite file or a real redis-server."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.load import load_plan
from config.plan import Person, Plan
from tests.engine import make_engine, moment, run_until
from worker.checkins.answers import record_checkin
from worker.delivery.channels import opt
from worker.engine import Engine
from worker.inbound.replies import within_rate
from worker.plans.register import register
from worker.privacy.erase import forget
from worker.privacy.export import export
from worker.privacy.holdings import message_strings
from worker.store import records
from worker.store.base import Store
from worker.store.redis import RedisStore
from worker.store.sqlite import SqliteStore

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    folder = tmp_path / "plans"
    shutil.copytree(EXAMPLES / "docs", folder / "docs")
    target = folder / "voedselbank.yaml"
    shutil.copy(EXAMPLES / "voedselbank.yaml", target)
    return target


def lived(engine: Engine, plan: Plan) -> None:
    """Two months of the partnership: deliveries, notes, a STOP, inbound rate rows."""
    register(engine, plan, moment("2027-01-01 09:00"))
    run_until(engine, moment("2027-02-01 09:00"))
    for person in ("chris", "bram", "eva"):
        record_checkin(
            engine,
            plan,
            person,
            moment("2027-02-01 10:00"),
            "on_track",
            note=f"note of {person}: gesprek met Chris Smit over de planning",
        )
    chris = plan.person("chris")
    opt(engine, plan, chris, "slack", True, moment("2027-02-02 10:00"), "sms:SM1")
    assert chris.phone is not None and chris.email is not None
    within_rate(engine, "sms", chris.phone, moment("2027-02-02 10:00"))
    within_rate(engine, "email", chris.email, moment("2027-02-02 10:00"))
    run_until(engine, moment("2027-03-01 09:00"))


def needles(person: Person) -> list[re.Pattern[str]]:
    """The id as a word; the name, first name, address and number anywhere (a plain
    substring search, which also sees them inside JSON escapes)."""
    found = [re.compile(rf"(?<![\w-]){re.escape(person.id)}(?![\w-])", re.I)]
    found += [re.compile(re.escape(word), re.I) for word in (person.name, person.called)]
    for value in (person.email, person.phone):
        if value:
            found.append(re.compile(re.escape(value.lstrip("+")), re.I))
    return found


def direct_rows(store: Store) -> Iterator[tuple[str, str, str]]:
    """Every row of the store as (table or key type, id, text), read past the Store API."""
    if isinstance(store, SqliteStore):
        db = sqlite3.connect(store.path)
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for row in db.execute(f"SELECT * FROM {table}"):
                ident = "records" if table == "records" else table
                key = f"{row[0]} {row[1]}" if table == "records" else str(row[0])
                yield ident, key, json.dumps([str(cell) for cell in row], ensure_ascii=False)
        db.close()
        return
    assert isinstance(store, RedisStore)
    r = store.redis
    for key in r.scan_iter(match=store.prefix + "*", count=1000):
        kind = r.type(key)
        if kind == "hash":
            if key.startswith(store.prefix + "rec:"):
                for field, value in r.hgetall(key).items():
                    collection = key[len(store.prefix) + 4 :]
                    yield "records", f"{collection} {field}", f"{key} {field} {value}"
            else:
                yield "hash", key, json.dumps(r.hgetall(key), ensure_ascii=False) + key
        elif kind == "set":
            yield "set", key, key + " " + " ".join(sorted(r.smembers(key)))
        elif kind == "zset":
            yield "zset", key, key + " " + " ".join(r.zrange(key, 0, -1))
        else:
            yield kind, key, key + " " + str(r.get(key))


def naming(store: Store, person: Person) -> list[tuple[str, str, str]]:
    found = needles(person)
    return [row for row in direct_rows(store) if any(p.search(row[2]) for p in found)]


def exported_ids(document: dict[str, Any], store: Store) -> set[str]:
    """The direct-query ids that the export accounts for."""
    ids = {
        f"{collection} {row_id}"
        for collection, rows in document["records"].items()
        for row_id in rows
    }
    for delivery in document["deliveries"]:
        ids.add(delivery["key"])
        if isinstance(store, RedisStore):
            ids.add(f"{store.prefix}item:{delivery['key']}")
    if document["plan_text_names_them"]:
        ids.add(document["plan"])
        if isinstance(store, RedisStore):
            ids.add(f"{store.prefix}plan:{document['plan']}")
    return ids


def test_export_holds_every_row_and_forget_leaves_none(
    store: Store, tmp_path: Path, plan_file: Path
) -> None:
    engine = make_engine(tmp_path, store)
    plan = load_plan(plan_file)
    lived(engine, plan)
    chris = plan.person("chris")
    found = naming(store, chris)
    assert len(found) > 20  # deliveries, check-in rows, opt-out, rates, plan, calendar

    document = export(engine, plan, chris, moment("2027-03-01 12:00"))
    covered = exported_ids(document, store)
    missing = [row for row in found if row[1] not in covered]
    assert missing == [], missing
    assert document["person"]["email"] == "chris@acme.example"
    assert document["consent"]["opt_outs"][0]["channel"] == "slack"
    notes = [
        row.get("note", "") for row in document["records"][records.checkin_rows(plan.id)].values()
    ]
    assert any("note of chris" in note for note in notes)
    assert document["messages"] and all("content" in m for m in document["messages"])
    assert json.loads(json.dumps(document)) == document  # it is JSON through and through

    outbox = engine.settings.outbox_dir
    assert any("_chris_" in p.name for p in outbox.iterdir())
    done = forget(engine, plan, chris, moment("2027-03-01 12:00"))
    assert done.cancelled > 0 and done.rewritten > 0 and done.files > 0

    assert naming(store, chris) == []
    assert not any("_chris_" in p.name for p in outbox.iterdir())
    # The others' notes keep their words, without Chris' name in them.
    rows = store.records(records.checkin_rows(plan.id))
    bram = [row for row_id, row in rows.items() if row_id.startswith("bram/")]
    assert any(str(row.get("note", "")).startswith("note of bram") for row in bram)

    # Nothing more reaches them; everyone else goes on.
    later = run_until(engine, moment("2027-07-01 09:00"))
    assert later
    assert {d.item.recipient for d in later} >= {"ana", "bram"}
    assert not any(str(d.item.recipient).startswith("chris") for d in later)
    assert not any(d.item.recipient and d.item.recipient.startswith("erased-") for d in later)
    texts = [text for p in outbox.iterdir() if p.is_file() for text in message_strings(p)]
    assert not any(pattern.search(text) for text in texts for pattern in needles(chris))

    # A sync of the file that still names them registers the pseudonym instead.
    again = register(engine, load_plan(plan_file), moment("2027-07-01 10:00"))
    assert again.erased == ["chris"]
    assert naming(store, chris) == []
    audit = list(store.records(records.ERASURES).values())
    assert [row["what"] for row in audit] == ["forget"]
    assert not any(p.search(json.dumps(audit)) for p in needles(chris))


def test_forgetting_the_lead_sends_nothing_to_them_and_the_plan_still_runs(
    tmp_path: Path, plan_file: Path
) -> None:
    engine = make_engine(tmp_path)
    plan = load_plan(plan_file)
    lived(engine, plan)
    bram = plan.person("bram")
    forget(engine, plan, bram, moment("2027-03-01 12:00"))
    later = run_until(engine, moment("2027-07-10 09:00"))
    assert later and all(d.state in ("done", "sent", "retry") or d.item.kind for d in later)
    sent_to = {d.item.recipient for d in later if d.state != "failed"}
    assert "bram" not in sent_to
    assert not any(r and r.startswith("erased-") for r in sent_to)
    assert naming(engine.store, bram) == []
    assert store_text(engine).count("bram@acme.example") == 0


def store_text(engine: Engine) -> str:
    assert isinstance(engine.store, SqliteStore)
    engine.store.compact()
    return engine.store.path.read_bytes().decode("latin-1")


def test_forget_a_second_time_changes_nothing_more(tmp_path: Path, plan_file: Path) -> None:
    engine = make_engine(tmp_path)
    plan = load_plan(plan_file)
    lived(engine, plan)
    eva = plan.person("eva")
    first = forget(engine, plan, eva, moment("2027-03-01 12:00"))

    def kept() -> list[tuple[str, str, str]]:  # the audit grows; a plan row's time moves
        rows = sorted(direct_rows(engine.store))
        return [row for row in rows if records.ERASURES not in row[1] and row[0] != "plans"]

    before, text = kept(), engine.store.plan(plan.id).text  # type: ignore[union-attr]
    second = forget(engine, engine.plan(plan.id), eva, moment("2027-03-01 12:05"))
    assert first.pseudonym == second.pseudonym
    assert (second.cancelled, second.rewritten, second.rows, second.files) == (0, 0, 0, 0)
    assert kept() == before
    assert engine.store.plan(plan.id).text == text  # type: ignore[union-attr]


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "PACTKEEPER_DATA_DIR": str(tmp_path / "data"),
        "PACTKEEPER_SECRET_KEY": "test-signing-key-of-32-bytes-long!",
        "HOME": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "-m", "worker.run.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_commands_export_and_forget(tmp_path: Path, plan_file: Path) -> None:
    assert cli(tmp_path, "sync", str(plan_file)).returncode == 0
    out = tmp_path / "chris.json"
    done = cli(tmp_path, "export", str(plan_file), "chris", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["person"]["id"] == "chris"

    for args, said in [
        (("export", str(plan_file), "nobody", "-o", str(out)), "no person 'nobody'"),
        (("forget", "no-such-plan", "chris"), "no plan 'no-such-plan'"),
        (("forget", str(tmp_path / "missing.yaml"), "chris"), "missing.yaml"),
    ]:
        refused = cli(tmp_path, *args)
        assert refused.returncode == 1, refused.stderr
        assert said in refused.stderr and "Traceback" not in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1

    done = cli(tmp_path, "forget", str(plan_file), "chris")
    assert done.returncode == 0, done.stderr
    assert "erased as erased-" in done.stdout and "take chris out of the plan file" in done.stdout
    again = cli(tmp_path, "sync", str(plan_file))
    assert again.returncode == 0, again.stderr
    assert "chris" in again.stdout + again.stderr  # the reminder to take them out


def test_forget_all_plans_finds_the_person_by_address_in_each(
    tmp_path: Path, plan_file: Path
) -> None:
    text = plan_file.read_text()
    second = plan_file.with_name("tweede.yaml")
    second.write_text(
        text.replace("id: voedselbank-aanmelden", "id: voedselbank-tweede")
        .replace("id: chris", "id: christiaan")
        .replace("[chris", "[christiaan")
        .replace(" chris]", " christiaan]")
        .replace(", chris,", ", christiaan,")
        .replace("owner: chris", "owner: christiaan")
    )
    assert load_plan(second).person("christiaan").email == "chris@acme.example"
    for path in (plan_file, second):
        done = cli(tmp_path, "sync", str(path))
        assert done.returncode == 0, done.stderr
    done = cli(tmp_path, "forget", str(plan_file), "chris", "--all-plans")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("erased as erased-") == 2
    assert "take christiaan out of the plan file of voedselbank-tweede" in done.stdout
    store = SqliteStore(tmp_path / "data" / "pactkeeper.sqlite3")
    chris = load_plan(plan_file).person("chris")
    assert naming(store, chris) == []
    assert naming(store, load_plan(second).person("christiaan")) == []


def test_redis_compaction_rewrites_the_append_only_file_without_what_was_deleted(
    redis_server: Any,
) -> None:
    store = RedisStore(redis_server.url, prefix="compact-test:")
    secret = "erase-me-7f3a9c@example.invalid"
    store.put_record("c", "1", {"email": secret})
    folder = Path(redis_server.folder)

    def on_disk() -> bool:
        return any(secret.encode() in p.read_bytes() for p in folder.rglob("*") if p.is_file())

    assert on_disk()  # appendfsync always: the write is in the AOF
    store.delete_records("c")
    assert on_disk()  # deleted in memory, still in the file
    store.compact()
    for _ in range(200):
        persistence = store.redis.info("persistence")
        if (
            not persistence["aof_rewrite_in_progress"]
            and not persistence["aof_rewrite_scheduled"]
            and not on_disk()
        ):
            break
        time.sleep(0.05)
    assert not on_disk()
    store.flush()
    store.close()


def test_a_person_whose_id_is_a_word_of_the_plan_is_refused_and_nothing_changes(
    tmp_path: Path, plan_file: Path
) -> None:
    # 'team' is also a key and a value of the plan's structure: replacing it as a word
    # would break the plan, so forget refuses before it changes anything.
    text = plan_file.read_text().replace("id: eva", "id: team").replace("[eva", "[team")
    text = text.replace(" eva]", " team]").replace(", eva,", ", team,").replace(": eva", ": team")
    plan_file.write_text(text)
    assert cli(tmp_path, "sync", str(plan_file)).returncode == 0
    store = tmp_path / "data" / "pactkeeper.sqlite3"
    before = sorted(direct_rows(SqliteStore(store)))
    refused = cli(tmp_path, "forget", str(plan_file), "team")
    assert refused.returncode == 1
    assert "cannot be rewritten safely; take them out of the plan file" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert sorted(direct_rows(SqliteStore(store))) == before
