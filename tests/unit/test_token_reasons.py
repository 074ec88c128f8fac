"""A refused link says why as a code (``TokenError.reason``), never through its wording.

The web pages and the API act on the code; the English message is for logs and the
command line, so rewording it cannot turn every refusal into "invalid".
"""

from __future__ import annotations

import pytest

from web.pages import REASONS
from worker import tokens

KEY = b"a-signing-key-of-enough-bytes"
NOW = 1_800_000_000.0


def _reason(token: str, purpose: str = "checkin") -> str:
    with pytest.raises(tokens.TokenError) as refused:
        tokens.verify(KEY, token, purpose, NOW)
    return refused.value.reason


def test_each_way_a_link_is_wrong_has_its_own_code() -> None:
    good = tokens.sign(KEY, "checkin", {"p": "x"}, NOW + 60)
    assert _reason(good.partition(".")[0]) == "incomplete"
    assert _reason(tokens.sign(b"another-key-of-enough-bytes", "checkin", {}, None)) == "invalid"
    assert _reason("bm90IGpzb24." + good.partition(".")[2]) == "invalid"
    assert _reason(good, "status") == "wrong_page"
    assert _reason(tokens.sign(KEY, "checkin", {"p": "x"}, NOW - 1)) == "expired"


def test_every_code_has_a_page_text() -> None:
    for code in ("incomplete", "invalid", "wrong_page", "expired"):
        assert code in REASONS, code


def test_the_code_does_not_depend_on_the_wording() -> None:
    error = tokens.TokenError("expired", "dit is een andere zin")
    assert error.reason == "expired"
    assert str(error) == "dit is een andere zin"
