"""The handover bundle (issue 7): BagIt, byte-identical, complete, private, sent once.

The Dutch example is simulated through its end with the check-ins of
``tests/fixtures/checkins_eva_silent_after_week3.csv`` by the real command; its
bundle is unpacked and validated by ``bagit``, read file by file, and its HTML is
opened in headless Chromium (the screenshot is kept next to the test's files).
"""

from __future__ import annotations

import csv
import io
import os
import threading
import zipfile
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from xml.etree import ElementTree

import bagit
import pytest
from playwright.sync_api import sync_playwright

from config.load import load_plan, load_text
from tests.calendar_lint import lint_calendar
from tests.engine import make_engine, moment, run_due, run_until
from tests.servers import RedisServer
from tests.support import DUTCH, ROOT, dump, minimal_data
from tests.support import run_cli as pactkeeper
from worker.handover import close as handover
from worker.plans.register import register
from worker.store.redis import RedisStore
from worker.store.sqlite import SqliteStore

pytestmark = pytest.mark.system

CSV = ROOT / "tests" / "fixtures" / "checkins_eva_silent_after_week3.csv"
CHROMIUM = "/usr/bin/chromium"
FILES = {
    "handover.md",
    "handover.html",
    "timeline.svg",
    "plan.yaml",
    "calendar.ics",
    "people.csv",
    "checkins.csv",
    "milestones.csv",
    "deliveries.csv",
    "runbook.md",
    "runbook.html",
    "documents/docs/beheer.md",
}
SVG = "{http://www.w3.org/2000/svg}"


def unpack(data: bytes, folder: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        (top,) = {name.split("/")[0] for name in archive.namelist()}
        archive.extractall(folder)
    return folder / top


def payload(bag: Path) -> set[str]:
    data = bag / "data"
    return {p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file()}


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    done = pactkeeper(
        "simulate", str(DUTCH), "--until", "2027-05-03", "--checkins", str(CSV), "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert f"handover bundle: {out / 'handover.zip'}" in done.stdout
    return out


@pytest.fixture(scope="module")
def bag(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack((simulated / "handover.zip").read_bytes(), tmp_path_factory.mktemp("bag"))


def test_the_bundle_is_a_valid_bag_with_every_file(bag: Path) -> None:
    found = bagit.Bag(str(bag))
    found.validate()  # every checksum in the manifests, the Payload-Oxum, nothing extra
    assert found.algorithms == ["sha256"]
    assert payload(bag) == FILES
    assert found.info["External-Identifier"] == "voedselbank-aanmelden"
    assert found.info["Bagging-Date"] == "2027-05-01"  # the close, the morning after the end


def test_the_report_is_dutch_with_the_real_history(bag: Path) -> None:
    report = (bag / "data" / "handover.md").read_text()
    assert report.startswith("# Overdracht: Online aanmelden voor vrijwilligers")
    assert "Dit is de stand bij de afsluiting, op 1 mei 2027." in report
    assert "## Mijlpalen: gepland en werkelijk" in report
    assert "| Intakegesprek | afspraak | 11 jan 2027, 10:00 | Bram Bakker | af |" in report
    assert "niet af, deadline verstreken" in report  # "Formulier live" was never ticked off
    assert "## Lessen uit de check-ins" in report
    assert "Formulier in de maak" in report  # a note from the check-ins, in the lessons
    assert "## Wie pakt de draad op" in report and "**Opvolger:** Dirk Jansen" in report
    assert "`documents/docs/beheer.md`" in report
    for english in ("Handover:", "Milestones", "check-ins were", "still open"):
        assert english not in report


def test_the_csv_files_hold_what_happened(bag: Path, simulated: Path) -> None:
    data = bag / "data"
    checkins = rows(data / "checkins.csv")
    answered = [r for r in checkins if r["state"] in ("answered", "late")]
    fixture = list(csv.DictReader(CSV.open(encoding="utf-8")))
    assert len(answered) == len(fixture)  # each line of the CSV is one answered window
    assert {r["note"] for r in answered} >= {r["note"] for r in fixture if r["note"]}
    eva = [r for r in checkins if r["person"] == "eva"]
    # Silent after week three; the spring pause is excused, not missed.
    assert [r["state"] for r in eva[3:7]] == ["missed", "missed", "missed", "excused"]
    milestones = {r["id"]: r for r in rows(data / "milestones.csv")}
    assert milestones["intake"]["state"] == "done"
    assert milestones["intake"]["done_by"] == "bram"
    assert milestones["livegang"]["state"] == "overdue"
    assert int(milestones["livegang"]["days_late"]) == 30
    people = rows(data / "people.csv")
    assert list(people[0]) == ["name", "side", "role", "email", "phone", "channels"]
    assert {p["name"] for p in people} >= {"Ana de Vries", "Bram Bakker", "Eva Mulder"}
    deliveries = rows(data / "deliveries.csv")
    logged = (simulated / "log.jsonl").read_text().splitlines()
    not_bundle = [line for line in logged if '"kind": "handover"' not in line]
    assert len([d for d in deliveries if d["state"] == "sent"]) == len(not_bundle)
    assert {d["kind"] for d in deliveries} >= {"kickoff", "checkin_open", "reminder", "warning"}


def test_the_calendar_in_the_bundle_is_clean(bag: Path) -> None:
    data = (bag / "data" / "calendar.ics").read_bytes()
    assert lint_calendar(data) == []
    assert data.count(b"BEGIN:VEVENT") == len(load_plan(DUTCH).milestones) + 1 + 3  # + check-ins


def test_the_timeline_shows_milestones_and_the_handover(bag: Path) -> None:
    svg = ElementTree.parse(bag / "data" / "timeline.svg").getroot()
    assert svg.tag == f"{SVG}svg"
    plan = load_plan(DUTCH)
    marks = {g.get("data-milestone") for g in svg.iter(f"{SVG}g") if g.get("data-milestone")}
    assert marks == {m.id for m in plan.milestones}
    (moment_mark,) = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "handover"]
    assert moment_mark.get("data-at", "").startswith("2027-04-28T14:00")
    html = (bag / "data" / "handover.html").read_text()
    assert "<svg" in html and 'class="handover"' in html  # the picture is inline in the page


def test_the_html_renders_in_chromium(bag: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    page_file = bag / "data" / "handover.html"
    shot = tmp_path_factory.mktemp("shot") / "handover.png"
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_file.as_uri())
            assert page.locator("html").get_attribute("lang") == "nl"
            assert page.locator("h1").first.inner_text().startswith("Overdracht")
            figure = page.locator("figure.timeline svg")
            box = figure.bounding_box()
            assert box is not None and box["width"] > 500 and box["height"] > 100
            assert page.locator("figure.timeline g.handover").count() == 1
            assert page.locator("table").count() >= 3
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert shot.stat().st_size > 30_000
    kept = os.environ.get("PACTKEEPER_KEEP_SCREENSHOTS")
    if kept:
        Path(kept).write_bytes(shot.read_bytes())


def test_building_twice_gives_identical_bytes(tmp_path: Path) -> None:
    plan = load_plan(DUTCH)
    engine = make_engine(tmp_path)
    register(engine, plan, moment("2027-01-01 00:00"))
    run_until(engine, moment("2027-02-20 12:00"))
    first = handover.build_bundle(engine, plan, moment("2027-02-20 12:00"))
    second = handover.build_bundle(engine, plan, moment("2027-02-20 12:00"))
    assert first == second
    other = make_engine(tmp_path / "again")
    register(other, plan, moment("2027-01-01 00:00"))
    run_until(other, moment("2027-02-20 12:00"))
    assert handover.build_bundle(other, plan, moment("2027-02-20 12:00")) == first


def test_the_cli_builds_without_sending(tmp_path: Path) -> None:
    env = {"PACTKEEPER_DATA_DIR": str(tmp_path / "data"), "PACTKEEPER_SECRET_KEY": "k" * 20}
    assert pactkeeper("sync", str(DUTCH), **env).returncode == 0
    first = pactkeeper("handover", str(DUTCH), "-o", str(tmp_path / "a.zip"), **env)
    assert first.returncode == 0, first.stderr
    again = pactkeeper("handover", str(DUTCH), "-o", str(tmp_path / "b.zip"), "--redact", **env)
    assert again.returncode == 0, again.stderr
    bag = unpack((tmp_path / "b.zip").read_bytes(), tmp_path / "b")
    bagit.Bag(str(bag)).validate()
    everything = b"".join(p.read_bytes() for p in bag.rglob("*") if p.is_file())
    for person in load_plan(DUTCH).people:
        for value in (person.email, person.phone):
            if value:
                assert value.encode() not in everything
    assert not (tmp_path / "data" / "outbox").exists() or not any(
        "overdracht" in p.read_text(errors="replace").lower()
        for p in (tmp_path / "data" / "outbox").rglob("*")
        if p.is_file()
    )


# -- secrets ------------------------------------------------------------------------------


SECRETS = {
    "PACTKEEPER_SECRET_KEY": "signing-key-0123456789-secret",
    "PACTKEEPER_SMTP_PASSWORD": "smtp-password-s3cr3t-value",
    "PACTKEEPER_TWILIO_AUTH_TOKEN": "twilio-token-9f8e7d6c5b4a",
    "HANDOVER_TEST_WEBHOOK": "http://127.0.0.1:9/services/T000/B000/webhook-secret-path",
    "HANDOVER_TEST_BOT": "bot-token-abcdef-123456",
}


def test_no_secret_token_or_feed_link_is_in_the_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    data = minimal_data()
    data["communication"]["channels"] = {
        "email": {},
        "slack": {"webhook": "env:HANDOVER_TEST_WEBHOOK"},
        "telegram": {"token": "env:HANDOVER_TEST_BOT", "chat_id": "-100123"},
    }
    data["people"][1]["channels"] = ["slack", "email"]
    data["checkins"] = {"every": "weekly", "on": "monday", "grace": "2d", "who": ["tim"]}
    folder = tmp_path / "plan"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "notes.md").write_text("How to run it.\n")
    (folder / "docs" / "leaky.txt").write_text(f"token={SECRETS['HANDOVER_TEST_BOT']}\n")
    data["handover"] = {"at": "2027-06-28T10:00", "documents": ["docs/notes.md", "docs/leaky.txt"]}
    (folder / "plan.yaml").write_text(dump(data))
    plan = load_plan(folder / "plan.yaml")
    engine = make_engine(tmp_path, secret_key=SECRETS["PACTKEEPER_SECRET_KEY"])
    register(engine, plan, moment("2027-01-01 00:00"))
    run_until(engine, moment("2027-03-01 12:00"))  # reminders, check-in requests with links
    from worker.checkins.answers import record_checkin

    record_checkin(
        engine,
        plan,
        "tim",
        moment("2027-03-01 12:00"),
        "need_help",
        f"the webhook {SECRETS['HANDOVER_TEST_WEBHOOK']} answers 404",
        source="test",
    )
    bundle = handover.build_bundle(engine, plan, moment("2027-03-02 12:00"))
    bag = unpack(bundle, tmp_path / "bag")
    bagit.Bag(str(bag)).validate()
    files = {p: p.read_bytes() for p in bag.rglob("*") if p.is_file()}
    assert len(files) > 12
    everything = b"\n".join([bundle, *files.values()])
    for value in SECRETS.values():
        assert value.encode() not in everything, value
    for text in (b"/checkin/", b"/feeds/", b"/status/", b"/bundles/"):
        assert text not in everything
    assert "documents/docs/leaky.txt" not in payload(bag)
    assert "docs/leaky.txt" in (bag / "data" / "handover.md").read_text()  # named as left out
    # The note that quoted the webhook keeps its words, without the secret.
    assert "the webhook [removed] answers 404" in (bag / "data" / "checkins.csv").read_text()
    assert (bag / "data" / "documents" / "docs" / "notes.md").read_text() == "How to run it.\n"


# -- closing once -------------------------------------------------------------------------


def closing_plan(tmp: Path) -> Path:
    data = minimal_data()
    data["handover"] = {"at": "2027-06-28T10:00", "recipients": ["pia", "tim"]}
    path = tmp / "plan.yaml"
    path.write_text(dump(data))
    return path


def handover_mails(data_dir: Path) -> list[EmailMessage]:
    found = []
    for path in sorted((data_dir / "outbox").rglob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        if "handover bundle" in str(message["Subject"]):
            found.append(message)
    return found


def test_close_twice_sends_the_bundle_once(tmp_path: Path) -> None:
    env = {"PACTKEEPER_DATA_DIR": str(tmp_path / "data"), "PACTKEEPER_SECRET_KEY": "k" * 20}
    plan_file = closing_plan(tmp_path)
    assert pactkeeper("sync", str(plan_file), **env).returncode == 0
    first = pactkeeper("close", str(plan_file), **env)
    assert first.returncode == 0, first.stderr
    assert "closed at" in first.stdout and "Pia (pia), Tim (tim)" in first.stdout
    second = pactkeeper("close", str(plan_file), **env)
    assert second.returncode == 0, second.stderr
    assert "already closed" in second.stdout and "nothing is sent twice" in second.stdout
    plan = load_plan(plan_file)
    store = SqliteStore(tmp_path / "data" / "pactkeeper.sqlite3")  # the one the commands used
    engine = make_engine(tmp_path, store=store, secret_key="k" * 20)
    items = [i for i in engine.store.items(plan.id) if i.kind == "handover"]
    assert sorted(i.recipient or "" for i in items) == ["pia", "tim"]
    run_until(engine, max(i.due for i in items) + 1)
    handover.close_plan(engine, plan, max(i.due for i in items) + 60)  # and once more
    run_due(engine, max(i.due for i in items) + 120)
    mails = handover_mails(tmp_path / "data")
    assert sorted(str(m["To"]) for m in mails) == [
        "Pia <pia@partner.example>",
        "Tim <tim@team.example>",
    ]
    for mail in mails:
        (zipped,) = [
            p for p in mail.iter_attachments() if p.get_content_type() == "application/zip"
        ]
        data = zipped.get_content()
        assert data == (tmp_path / "data" / "handover" / f"{plan.id}.zip").read_bytes()
        bagit.Bag(str(unpack(data, tmp_path / str(mail["To"]).split()[0]))).validate()
    # Closed early: nothing that the plan scheduled after the close is left to go out.
    states = {
        i.state for i in engine.store.items(plan.id) if i.kind in ("reminder", "checkin_open")
    }
    assert "due" not in states


def test_two_workers_racing_close_send_once(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()
    try:
        plan = load_text(closing_plan(tmp_path).read_text(), "plan.yaml")
        engines = [
            make_engine(tmp_path, store=RedisStore(server.url, prefix="race:")) for _ in range(4)
        ]
        register(engines[0], plan, moment("2027-01-01 00:00"))
        barrier = threading.Barrier(len(engines))
        closings: list[handover.Closing] = []

        def close(engine_index: int) -> None:
            barrier.wait()
            closings.append(
                handover.close_plan(engines[engine_index], plan, moment("2027-07-01 00:00"))
            )

        threads = [threading.Thread(target=close, args=(n,)) for n in range(len(engines))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(c.first for c in closings) == 1
        assert len({c.at for c in closings}) == 1
        assert sum(len(c.scheduled) for c in closings) == 2
        sent = []
        for engine in engines:  # every worker sweeps; each item goes out once
            sent += [d for d in run_due(engine, moment("2027-07-02 12:00")) if d.state == "sent"]
        assert sorted(d.item.recipient or "" for d in sent if d.item.kind == "handover") == [
            "pia",
            "tim",
        ]
        assert len(handover_mails(tmp_path / "data")) == 2
        for engine in engines:
            engine.close()
    finally:
        server.stop()


def test_a_missing_document_is_a_validation_error(tmp_path: Path) -> None:
    data = minimal_data()
    data["handover"] = {"at": "2027-06-28T10:00", "documents": ["docs/gone.md"]}
    (tmp_path / "plan.yaml").write_text(dump(data))
    done = pactkeeper("validate", str(tmp_path / "plan.yaml"))
    assert done.returncode == 1
    assert "handover.documents[0]: the document 'docs/gone.md' does not exist" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


# -- the download link ----------------------------------------------------------------------


def test_the_download_link_serves_the_kept_bundle(tmp_path: Path) -> None:
    import requests

    from tests.system.test_web import serve, web_plan

    with serve(tmp_path, web_plan(), "2027-07-02 12:00") as served:
        plan, settings = served.plan, served.engine.settings
        kept = handover.bundle_path(settings, plan.id)
        data = kept.read_bytes()  # the close step at the end kept it

        def link(expires: float, body: bytes = data) -> str:
            url = handover.download_link(settings, plan.id, body, expires)
            return served.base + url[url.index("/bundles/") :]

        later = served.now() + 3600
        answer = requests.get(link(later), timeout=10)
        assert answer.status_code == 200
        assert answer.content == data
        assert answer.headers["content-type"] == "application/zip"
        assert 'filename="test-plan-handover.zip"' in answer.headers["content-disposition"]
        assert answer.headers["cache-control"] == "private, no-store"
        expired = requests.get(link(served.now() - 60), timeout=10)
        assert expired.status_code == 403 and "expired" in expired.text.lower()
        forged = link(later).replace("/bundles/test-plan/", "/bundles/test-plan/x")
        assert requests.get(forged, timeout=10).status_code == 403
        other_plan = link(later).replace("/bundles/test-plan/", "/bundles/other-plan/")
        assert requests.get(other_plan, timeout=10).status_code == 403
        stale = requests.get(link(later, b"an older bundle"), timeout=10)
        assert stale.status_code == 404
        for answer in (expired, stale):
            assert "Traceback" not in answer.text and data[:4] not in answer.content
