"""read_mail: every corpus e-mail read right, what a reply is about, auto-replies, caps and
broken input (docs/replies.md).

The corpus is tests/fixtures/replies/*.eml with expected.yaml: each message is read through
``read_mail`` and ``read_answer``, the whole reading path of an e-mail reply.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from config.settings import Settings
from worker import links
from worker.inbound.mail import MAX_BYTES, Mail, MailRefused, read_mail
from worker.inbound.reading import read_answer

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests/fixtures/replies"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load(
    (CORPUS / "expected.yaml").read_text(encoding="utf-8")
)
KEY = "3f9a0c1d2e4b5a6978c0d1e2"  # the ledger key every corpus reply answers
OTHER = "0123456789abcdef01234567"
DOMAIN = "pactkeeper.local"
SETTINGS = Settings(uid_domain=DOMAIN, signing_key="k" * 32, reply_address="reply@org.example")
REASONS = {"too_large", "unreadable", "no_sender"}


def message(
    *headers: str, body: bytes | str = "1\r\n", sender: str = "Anna <anna@example.org>"
) -> bytes:
    lines = [f"From: {sender}", *headers] if sender else list(headers)
    head = "\r\n".join(lines).encode() + b"\r\n\r\n"
    return head + (body.encode() if isinstance(body, str) else body)


def read(raw: bytes) -> Mail:
    return read_mail(raw, SETTINGS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_corpus_reply_is_read_as_expected(name: str) -> None:
    expected = EXPECTED[name]
    mail = read((CORPUS / name).read_bytes())
    reading = read_answer(mail.text)
    assert (reading.status, reading.note, reading.optout) == (
        expected["status"],
        expected["note"],
        expected.get("optout"),
    )
    assert mail.auto == expected.get("auto", False)
    assert mail.about == KEY
    assert mail.sender in ("sanne@partner.example", "anna.devries@partner.example")


def test_the_corpus_is_every_eml_of_the_folder_and_at_least_sixty() -> None:
    files = {path.name for path in CORPUS.glob("*.eml")}
    assert files == set(EXPECTED)
    assert len(files) >= 60
    statuses = {entry["status"] for entry in EXPECTED.values()}
    assert statuses == {"on_track", "need_help", "blocked", "stopping", None}


def test_a_verified_reply_address_names_the_item_before_in_reply_to() -> None:
    address = links.reply_address(SETTINGS, OTHER)
    assert address is not None
    raw = message(f"To: <{address}>", f"In-Reply-To: <{KEY}@{DOMAIN}>")
    assert read(raw).about == OTHER
    for header in ("Cc", "Delivered-To", "X-Original-To"):
        raw = message("To: someone@example.org", f"{header}: {address}")
        assert read(raw).about == OTHER


def test_a_forged_reply_address_is_passed_over() -> None:
    address = links.reply_address(SETTINGS, OTHER)
    assert address is not None
    local, domain = address.split("@")
    forged = f"{local[:-1]}{'0' if local[-1] != '0' else '1'}@{domain}"
    raw = message(f"To: {forged}", f"In-Reply-To: <{KEY}@{DOMAIN}>")
    assert read(raw).about == KEY
    assert read(message(f"To: {forged}")).about is None


def test_in_reply_to_comes_before_the_last_references_id() -> None:
    refs = f"References: <{OTHER}@{DOMAIN}>\r\n <x@elsewhere.example> <{KEY}@{DOMAIN}>"
    assert read(message(refs)).about == KEY
    assert read(message(refs, f"In-Reply-To: <{OTHER}@{DOMAIN}>")).about == OTHER


@pytest.mark.parametrize(
    "header",
    [
        f"In-Reply-To: <{KEY.upper()}@{DOMAIN}>",
        f"In-Reply-To: <{KEY}@elsewhere.example>",
        f"In-Reply-To: <{KEY}0@{DOMAIN}>",
        f"In-Reply-To: <{KEY[:-1]}@{DOMAIN}>",
        "In-Reply-To: <CAF=abc@mail.gmail.com>",
    ],
)
def test_an_id_that_is_not_ours_names_nothing(header: str) -> None:
    assert read(message(header)).about is None


def test_the_domain_of_our_ids_is_read_in_any_case() -> None:
    assert read(message(f"In-Reply-To: <{KEY}@{DOMAIN.upper()}>")).about == KEY


@pytest.mark.parametrize(
    "headers",
    [
        ("Auto-Submitted: auto-replied",),
        ("Auto-Submitted: auto-generated; owner-email=x@example.org",),
        ("X-Autoreply: yes",),
        ("X-Autorespond: Out of office",),
        ("Precedence: bulk",),
        ("Precedence: junk",),
        ("Precedence: auto_reply",),
        ("Subject: Automatic reply: Check-in",),
        ("Subject: Automatisch antwoord: Check-in",),
        ("Subject: Out of Office: Check-in",),
        ("Subject: AFWEZIG: Check-in",),
        ("Subject: Undeliverable: Check-in",),
        ("Content-Type: multipart/report; report-type=delivery-status; boundary=b",),
    ],
)
def test_auto_replies_are_never_answers(headers: tuple[str, ...]) -> None:
    assert read(message(*headers)).auto is True


@pytest.mark.parametrize(
    "headers",
    [
        ("Auto-Submitted: no",),
        ("Subject: Re: Out of office next week?",),
        ("Subject: Re: afwezig in mei",),
        ("Precedence: first-class",),
    ],
)
def test_a_person_writing_about_being_away_is_no_auto_reply(headers: tuple[str, ...]) -> None:
    assert read(message(*headers)).auto is False


def test_a_message_over_the_cap_is_refused_before_it_is_read() -> None:
    raw = message(body=b"1\r\n" + b"x" * MAX_BYTES)
    with pytest.raises(MailRefused) as refused:
        read(raw)
    assert refused.value.reason == "too_large"
    assert "KiB" in str(refused.value)
    at_cap = message(body=b"1\r\n" + b"x" * (MAX_BYTES - 200))
    assert len(at_cap) <= MAX_BYTES
    assert read(at_cap).sender == "anna@example.org"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "unreadable"),
        (b"   \r\n\r\n", "unreadable"),
        (b"\x00\xff\xfe\x80 not a message at all", "unreadable"),
        (message("Subject: hi", sender=""), "no_sender"),
        (message("Subject: hi", sender="undisclosed-recipients:;"), "no_sender"),
        (message("Subject: hi", sender="Anna"), "no_sender"),
    ],
)
def test_broken_input_is_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(MailRefused) as refused:
        read(raw)
    assert refused.value.reason == reason
    assert str(refused.value)


@pytest.mark.parametrize(
    "raw",
    [
        message("Content-Type: multipart/mixed; boundary=zz", body="--zz\r\nContent-Type: text/pl"),
        message("Content-Type: multipart/mixed", body="no boundary at all"),
        message("Content-Transfer-Encoding: base64", body="!!!not base64==="),
        message("Content-Type: text/plain; charset=x-unknown-8", body=b"2 - caf\xe9"),
        message("Content-Type: text/plain; charset=zlib", body=b"2 - caf\xe9"),
        message("Content-Type: text/plain; charset=base64", body=b"2 - caf\xe9"),
        message("Subject: =?zlib?B?AAAA?=", "Message-ID: <a@b>"),
        message("Content-Type: text/plain; charset=utf-8", body=b"2 - caf\xe9 \xff\xfe"),
        message("Subject: =?x-bogus?B?AAAA?=", "Message-ID: <a@b>"),
        message(b"Subject: caf\xe9 \xff".decode("latin-1")),
        message(
            "Content-Type: multipart/alternative; boundary=a",
            body="--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a--\r\n--a--",
        ),
        b"From: a@example.org\r\nSubject: folded\r\n\tbadly\r\n: no name\r\n\r\n1",
    ],
)
def test_broken_mime_is_read_or_refused_never_raised(raw: bytes) -> None:
    try:
        mail = read(raw)
    except MailRefused as refused:
        assert refused.reason in REASONS
    else:
        assert mail.sender == "a@example.org" or mail.sender == "anna@example.org"


def test_each_part_is_decoded_by_its_own_charset() -> None:
    body = (
        "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        "2 - =93caf=E9=94 is gesloten\r\n--b--\r\n"
    )
    raw = message("Content-Type: multipart/mixed; boundary=b", body=body)
    assert read(raw).text == "2 - “café” is gesloten"
    latin = message("Content-Type: text/plain; charset=windows-1252", body=b"1 \x96 caf\xe9")
    assert read(latin).text == "1 – café"
    utf8 = base64.b64encode("3 - één vraag 🙂".encode()).decode()
    raw = message(
        "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64", body=utf8
    )
    assert read(raw).text == "3 - één vraag 🙂"


@pytest.mark.parametrize("charset", ["x-unknown-8", "zlib", "base64", "rot13", '"utf-8"'])
def test_a_charset_that_names_no_text_codec_is_read_as_utf8(charset: str) -> None:
    raw = message(f"Content-Type: text/plain; charset={charset}", body="2 - één".encode())
    assert read(raw).text == "2 - één"


def test_an_encoded_subject_is_decoded() -> None:
    raw = message("Subject: =?iso-8859-1?Q?Re:_caf=E9?= =?utf-8?B?8J+Rjw==?=")
    assert read(raw).subject == "Re: café👏"


def test_html_only_mail_is_read_as_text() -> None:
    html = "<html><body><p>2 - wacht&nbsp;op <b>cijfers</b></p><blockquote>4</blockquote>"
    raw = message("Content-Type: text/html; charset=utf-8", body=html)
    assert read(raw).text == "2 - wacht op cijfers"


@pytest.mark.parametrize(
    "signature",
    [
        '<div class="gmail_signature" data-smartmail="gmail_signature">Anna<br>+31 6</div>',
        '<pre class="moz-signature" cols="72">-- \nAnna</pre>',
        '<div id="Signature"><p>Anna de Vries</p></div>',
        '<div id="AppleMailSignature">Verstuurd vanaf mijn iPhone</div>',
    ],
)
def test_an_html_signature_is_no_part_of_the_text(signature: str) -> None:
    raw = message("Content-Type: text/html", body=f"<div>3 - vast</div>{signature}")
    assert read(raw).text == "3 - vast"


def test_the_html_part_is_read_when_the_plain_part_holds_only_the_quote() -> None:
    body = (
        "--b\r\nContent-Type: text/plain\r\n\r\n> Hoe gaat het?\r\n"
        "--b\r\nContent-Type: text/html\r\n\r\n<p>2 - wacht</p><blockquote>Hoe gaat het?"
        "</blockquote>\r\n--b--\r\n"
    )
    raw = message("Content-Type: multipart/alternative; boundary=b", body=body)
    assert read(raw).text == "2 - wacht"


def test_a_forwarded_message_attached_is_not_read_as_the_reply() -> None:
    body = (
        "--b\r\nContent-Type: text/plain\r\n\r\nZie hieronder.\r\n"
        "--b\r\nContent-Type: message/rfc822\r\n\r\n"
        "From: x@example.org\r\nSubject: old\r\n\r\n4 - ik stop\r\n--b--\r\n"
    )
    raw = message("Content-Type: multipart/mixed; boundary=b", body=body)
    assert read(raw).text == "Zie hieronder."


def test_a_calendar_reply_is_handed_on_with_its_method() -> None:
    ics = "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:u1\r\nEND:VEVENT\r\n"
    ics += "END:VCALENDAR\r\n"
    body = (
        "--b\r\nContent-Type: text/plain\r\n\r\nAccepted: Intake\r\n"
        f"--b\r\nContent-Type: text/calendar; charset=utf-8; method=REPLY\r\n\r\n{ics}--b--\r\n"
    )
    mail = read(message("Content-Type: multipart/alternative; boundary=b", body=body))
    assert mail.calendar_method == "REPLY"
    assert mail.calendar is not None and b"UID:u1" in mail.calendar
    counter = base64.b64encode(ics.replace("REPLY", "COUNTER").encode()).decode()
    body = (
        "--b\r\nContent-Type: text/plain\r\n\r\nHow about Friday?\r\n"
        "--b\r\nContent-Type: application/octet-stream; name=invite.ics\r\n"
        "Content-Disposition: attachment; filename=invite.ics\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{counter}\r\n--b--\r\n"
    )
    mail = read(message("Content-Type: multipart/mixed; boundary=b", body=body))
    assert (mail.calendar_method, mail.text) == ("COUNTER", "How about Friday?")
    assert read(message()).calendar is None


def test_the_sender_is_the_lower_cased_address_and_the_message_id_is_kept() -> None:
    raw = message("Message-ID: <abc@Mail.Example>", sender='"De Vries, Anna" <Anna@Example.ORG>')
    mail = read(raw)
    assert (mail.sender, mail.message_id) == ("anna@example.org", "<abc@Mail.Example>")


def test_an_encoded_display_name_with_a_comma_keeps_the_address() -> None:
    raw = message(
        sender="=?utf-8?Q?De_Vries=2C_Anna_=3Cboss=40example=2Eorg=3E?= <anna@example.org>"
    )
    assert read(raw).sender == "anna@example.org"


def test_a_message_without_message_id_is_named_by_its_bytes() -> None:
    first, second = read(message(body="1")), read(message(body="2"))
    assert first.message_id == read(message(body="1")).message_id
    assert first.message_id != second.message_id


@given(st.binary(max_size=2000))
def test_any_bytes_give_a_mail_or_a_refusal(raw: bytes) -> None:
    try:
        read(raw)
    except MailRefused as refused:
        assert refused.reason in REASONS


CORPUS_BYTES = [(CORPUS / name).read_bytes() for name in sorted(EXPECTED)]


@given(st.sampled_from(CORPUS_BYTES), st.integers(0, 20_000), st.binary(min_size=1, max_size=40))
def test_a_damaged_corpus_message_gives_a_mail_or_a_refusal(
    raw: bytes, at: int, junk: bytes
) -> None:
    at %= len(raw)
    try:
        read(raw[:at] + junk + raw[at + len(junk) :])
    except MailRefused as refused:
        assert refused.reason in REASONS
