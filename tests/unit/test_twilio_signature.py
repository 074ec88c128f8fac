"""Twilio's request signature, checked against Twilio's own documented example.

The example of https://www.twilio.com/docs/usage/webhooks/webhooks-security (and of
Twilio's helper libraries' tests): a POST to ``https://mycompany.com/myapp.php?foo=1&bar=2``
with auth token ``12345`` signs as ``0/KCTR6DLpKmkAf8muzZqo1nDgQ=``. Every change to the
URL, a value, the token, or a parameter moved to another name makes it invalid; the order
the form arrives in does not matter (Twilio sorts), but the order inside the signed string
does, so a signature made over unsorted parameters is refused.
"""

from __future__ import annotations

import pytest

from worker.inbound.twilio import reply_of, signature, valid

URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TOKEN = "12345"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
DOCUMENTED = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_the_documented_example_signs_as_twilio_documents() -> None:
    assert signature(URL, PARAMS, TOKEN) == DOCUMENTED
    assert valid(URL, PARAMS, DOCUMENTED, TOKEN)


def test_the_form_order_does_not_matter() -> None:
    shuffled = list(reversed(PARAMS.items()))
    assert valid(URL, shuffled, DOCUMENTED, TOKEN)


def unsorted_signature() -> str:
    """What a signer that did not sort the parameters would send."""
    import base64
    import hashlib
    import hmac

    signed = URL + "".join(k + v for k, v in reversed(PARAMS.items()))
    return base64.b64encode(
        hmac.new(TOKEN.encode(), signed.encode(), hashlib.sha1).digest()
    ).decode()


@pytest.mark.parametrize(
    ("name", "url", "params", "header", "token"),
    [
        ("altered body", URL, {**PARAMS, "Digits": "1235"}, DOCUMENTED, TOKEN),
        ("added parameter", URL, {**PARAMS, "Body": "2"}, DOCUMENTED, TOKEN),
        (
            "dropped parameter",
            URL,
            {k: v for k, v in PARAMS.items() if k != "To"},
            DOCUMENTED,
            TOKEN,
        ),
        (
            "value moved to another name",
            URL,
            {**PARAMS, "From": "+18005551212", "To": "+12349013030"},
            DOCUMENTED,
            TOKEN,
        ),
        ("altered URL", "https://mycompany.com/myapp.php?foo=1&bar=3", PARAMS, DOCUMENTED, TOKEN),
        ("other host", URL.replace("mycompany", "othercompany"), PARAMS, DOCUMENTED, TOKEN),
        ("http for https", URL.replace("https:", "http:"), PARAMS, DOCUMENTED, TOKEN),
        ("query order", "https://mycompany.com/myapp.php?bar=2&foo=1", PARAMS, DOCUMENTED, TOKEN),
        ("other token", URL, PARAMS, DOCUMENTED, "12346"),
        ("empty token", URL, PARAMS, DOCUMENTED, ""),
        ("unsorted parameters signed", URL, PARAMS, unsorted_signature(), TOKEN),
        ("missing header", URL, PARAMS, None, TOKEN),
        ("empty header", URL, PARAMS, "", TOKEN),
        ("truncated header", URL, PARAMS, DOCUMENTED[:-2], TOKEN),
        ("non-ASCII header", URL, PARAMS, "0/KCTR6DLpKmkAf8muzZqo1nDgQé", TOKEN),
    ],
)
def test_any_change_is_invalid(
    name: str, url: str, params: dict[str, str], header: str | None, token: str
) -> None:
    assert not valid(url, params, header, token), name


def test_a_repeated_name_is_signed_once_per_value_sorted() -> None:
    pairs = [("To", "+2"), ("Body", "b"), ("To", "+1")]
    assert signature(URL, pairs, TOKEN) == signature(
        URL, [("Body", "b"), ("To", "+1"), ("To", "+2")], TOKEN
    )
    assert signature(URL, pairs, TOKEN) != signature(URL, [("Body", "b"), ("To", "+1")], TOKEN)


def test_an_sms_and_a_whatsapp_message_as_replies() -> None:
    form = {"From": "+31612345678", "Body": "2 wacht op cijfers", "MessageSid": "SM1"}
    sms = reply_of(form, 10.0)
    assert (sms.via, sms.sender, sms.text, sms.external_id, sms.at) == (
        "sms",
        "+31612345678",
        "2 wacht op cijfers",
        "SM1",
        10.0,
    )
    whatsapp = reply_of({**form, "From": "whatsapp:+31612345678", "MessageSid": "SM2"}, 11.0)
    assert (whatsapp.via, whatsapp.sender, whatsapp.external_id) == (
        "whatsapp",
        "+31612345678",
        "SM2",
    )
    assert reply_of({}, 12.0).sender == ""
