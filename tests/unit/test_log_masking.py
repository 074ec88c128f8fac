"""The backstop of the minimal logs (worker/logfilter.py): whatever a log line was given,
what a handler writes holds no e-mail address and no E.164 phone number."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from worker import logfilter
from worker.logfilter import mask, sender_tag


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("SMTP refused dirk@voedselbank.example 550", "SMTP refused <address> 550"),
        ("550 5.1.1 <Ana.de-Vries+x@mail.voedselbank.example>: no", "550 5.1.1 <<address>>: no"),
        ("mailto:ëva@acme.example", "mailto:<address>"),
        (
            "Twilio sms: HTTP 400 (The number +31687654321 is not valid.)",
            "Twilio sms: HTTP 400 (The number <phone> is not valid.)",
        ),
        ("From=whatsapp:+31612345678", "From=whatsapp:<phone>"),
        ("To=whatsapp%3A%2B31612345678&Body=1", "To=whatsapp%3A<phone>&Body=1"),
        ("call +44 7700 900123 now", "call <phone> now"),
    ],
)
def test_addresses_and_numbers_are_masked(text: str, masked: str) -> None:
    assert mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "sent invite voedselbank-aanmelden/intake to ana via email late=6.5s key=9a0c",
        "uid 6f1c2a34-1234-5678-9abc-def012345678@pactkeeper.local: not_invited",
        "pactkeeper@laptop ready.",
        "again at 2027-01-11 09:00:00Z +01:00 retry=+30s",
        "error 21211 (invalid 'To' number)",
    ],
)
def test_ids_times_and_uids_stay(text: str) -> None:
    assert mask(text) == text


@pytest.fixture
def written() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose records are made with masking installed, and what its handler wrote."""
    before = logging.getLogRecordFactory()
    logfilter.install()
    logfilter.install()  # a second call must not mask twice or nest
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("pactkeeper.test_log_masking")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        logging.setLogRecordFactory(before)


def test_every_part_of_a_record_is_masked(written: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = written
    logger.warning("refused %s (%s)", "ana@voedselbank.example", ConnectionError("+31612345678"))
    try:
        raise ValueError("no mailbox for bram@acme.example")
    except ValueError:
        logger.exception("cannot build the message for %s", "bram")
    logger.info("%(who)s said %(what)s", {"who": "eva@acme.example", "what": "1"})
    careless = "a careless %s line %s"  # two places, one argument: does not format
    logger.error(careless, "chris@acme.example")
    text = stream.getvalue()
    assert "@acme.example" not in text and "@voedselbank" not in text and "+316" not in text
    assert "refused <address> (<phone>)" in text
    assert "cannot build the message for bram" in text and "no mailbox for <address>" in text
    assert "<address> said 1" in text
    assert "a careless %s line %s (<address>" in text  # shown, not raised, masked
    assert "Traceback" in text  # the traceback is kept, only masked


def test_text_arguments_keep_their_shape(written: tuple[logging.Logger, io.StringIO]) -> None:
    """uvicorn's access formatter unpacks a record's arguments itself."""
    logger, _ = written
    seen: list[object] = []
    logger.addFilter(lambda record: seen.append(record.args) or True)
    logger.info('%s - "%s %s"', "127.0.0.1:5000", "GET", "/x/ana@voedselbank.example")
    assert seen == [("127.0.0.1:5000", "GET", "/x/<address>")]


def test_a_stranger_gets_a_keyed_tag() -> None:
    key = b"k" * 32
    tag = sender_tag(key, " Stranger@Elders.example ")
    assert tag == sender_tag(key, "stranger@elders.example")  # the same sender, the same tag
    assert tag != sender_tag(b"o" * 32, "stranger@elders.example")  # no key, no guessing
    assert tag.startswith("sender-") and len(tag) == len("sender-") + 10
