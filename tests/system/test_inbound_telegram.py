"""Telegram replies: the webhook on a real uvicorn, long polling, ``telegram webhook`` and
the buttons, with the Bot API stood in by ``tests/http_sink.py`` (a real process).

The plan sends its check-in requests to one Telegram chat; Tom's request of Monday
11 January went out (to the sink). A pressed button records its status and is answered
with ``answerCallbackQuery``; a text reply to the request is read like an SMS; the
same update twice answers once; a wrong secret token is 403; nothing that is refused
changes the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from config.plan import Plan
from config.settings import Settings
from connectors.base import Message, Recipient
from connectors.telegram import TelegramConnector
from tests.http_sink import SinkProcess, start_sink
from tests.support import dump, minimal_data, plan_from, run_cli
from tests.system.test_inbound_twilio import KEY, WINDOW, Served, serve_inbound
from worker.inbound import telegram
from worker.inbound.replies import Outcome
from worker.store import Item, records

pytestmark = pytest.mark.system

BOT = "123456789"
TOKEN = f"{BOT}:AAH-bot-token-secret-part-0123456789"
CHAT = -1001234567890


def telegram_plan() -> Plan:
    data = minimal_data()
    data["language"] = "nl"
    data["people"].append({"id": "tom", "name": "Tom", "side": "team", "channels": ["telegram"]})
    data["communication"]["channels"]["telegram"] = {"token": "env:TG_TOKEN", "chat_id": CHAT}
    data["checkins"] = {"every": "weekly", "on": "monday", "grace": "2d", "who": ["tom"]}
    return plan_from(data)


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SinkProcess]:
    found = start_sink(tmp_path_factory.mktemp("telegram-api"))
    yield found
    found.stop()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, sink: SinkProcess) -> Iterator[Served]:
    patch = pytest.MonkeyPatch()
    patch.setenv("TG_TOKEN", TOKEN)
    env = {"TG_TOKEN": TOKEN, "PACTKEEPER_TELEGRAM_API_URL": sink.url}
    tmp = tmp_path_factory.mktemp("telegram")
    try:
        with serve_inbound(tmp, telegram_plan(), env=env, telegram_api_url=sink.url) as found:
            yield found
    finally:
        patch.undo()


def request_of(served: Served) -> Item:
    """Tom's check-in request of the open window, as the ledger has it."""
    sent = [
        item
        for item in served.engine.store.items(served.plan.id, ("sent",))
        if item.kind == "checkin_open" and item.recipient == "tom" and item.ref == WINDOW
    ]
    assert len(sent) == 1
    return sent[0]


_numbers = iter(range(500_000, 600_000))


def pressed(
    served: Served, status: str, key: str | None = None, data: str | None = None
) -> dict[str, Any]:
    """The update Telegram sends when someone in the chat presses one of the buttons."""
    key = key or request_of(served).key
    return {
        "update_id": next(_numbers),
        "callback_query": {
            "id": f"cq{next(_numbers)}",
            "from": {"id": 4242, "is_bot": False, "first_name": "Tom"},
            "message": {"message_id": 77, "chat": {"id": CHAT, "type": "supergroup"}, "date": 0},
            "chat_instance": "-5",
            "data": data or telegram.callback_data(served.engine.settings, key, status),
        },
    }


def written(served: Served, text: str, replying: bool = True) -> dict[str, Any]:
    """A text message in the chat, replying to Tom's request (whose keyboard Telegram echoes)."""
    message: dict[str, Any] = {
        "message_id": next(_numbers),
        "from": {"id": 4242, "is_bot": False, "first_name": "Tom"},
        "chat": {"id": CHAT, "type": "supergroup"},
        "date": 0,
        "text": text,
    }
    if replying:
        keyboard = [
            [{"text": label, "callback_data": data}]
            for label, data in telegram.buttons(
                served.engine.settings, request_of(served).key, "nl"
            )
        ]
        message["reply_to_message"] = {
            "message_id": 77,
            "chat": {"id": CHAT, "type": "supergroup"},
            "date": 0,
            "text": "Hoe gaat het?",
            "reply_markup": {"inline_keyboard": keyboard},
        }
    return {"update_id": next(_numbers), "message": message}


def hook(
    served: Served,
    update: Any,
    *,
    secret: str | None = "ours",
    bot: str = BOT,
    data: bytes | None = None,
    content_type: str = "application/json",
) -> requests.Response:
    headers = {"Content-Type": content_type}
    if secret == "ours":
        headers[telegram.SECRET_HEADER] = telegram.webhook_secret(served.engine.settings, bot)
    elif secret is not None:
        headers[telegram.SECRET_HEADER] = secret
    body = data if data is not None else json.dumps(update).encode()
    return requests.post(
        f"{served.base}/inbound/telegram/{bot}", data=body, headers=headers, timeout=30
    )


def state(served: Served) -> tuple[Any, ...]:
    store = served.engine.store
    return (served.rows(), store.counts(served.plan.id), store.records(records.INBOUND_SEEN))


def thanks() -> str:
    line = Outcome("answered", language="nl").confirmation()
    assert line
    return line


def test_a_pressed_button_records_its_status_and_is_answered(served: Served) -> None:
    update = pressed(served, "need_help")
    answer = hook(served, update)
    assert answer.status_code == 200
    assert answer.json() == {
        "method": "answerCallbackQuery",
        "callback_query_id": update["callback_query"]["id"],
        "text": thanks(),
    }
    row = served.row("tom")
    assert (row["status"], row["source"]) == ("need_help", "telegram")


def test_the_same_update_twice_answers_once(served: Served) -> None:
    update = pressed(served, "on_track")
    assert hook(served, update).status_code == 200
    after = state(served)
    again = hook(served, update)
    assert again.status_code == 200
    # The spinner stops, and nothing is said or changed the second time.
    assert again.json() == {
        "method": "answerCallbackQuery",
        "callback_query_id": update["callback_query"]["id"],
    }
    assert state(served) == after
    assert served.row("tom")["status"] == "on_track"


def test_a_text_reply_to_the_request_is_read_like_an_sms(served: Served) -> None:
    answer = hook(served, written(served, "3 wacht op de sleutel"))
    assert answer.status_code == 200
    call = answer.json()
    assert (call["method"], call["chat_id"], call["text"]) == ("sendMessage", CHAT, thanks())
    row = served.row("tom")
    assert (row["status"], row["note"]) == ("blocked", "wacht op de sleutel")


def test_a_text_that_replies_to_nothing_changes_nothing(served: Served) -> None:
    before = state(served)
    answer = hook(served, written(served, "4 ik stop", replying=False))
    assert answer.status_code == 200
    assert answer.content == b""
    assert state(served)[:2] == before[:2]


def test_a_forged_button_changes_nothing(served: Served) -> None:
    before = state(served)
    real = telegram.callback_data(served.engine.settings, request_of(served).key, "stopping")
    forged = real[:-1] + ("A" if real[-1] != "A" else "B")
    update = pressed(served, "stopping", data=forged)
    answer = hook(served, update)
    assert answer.status_code == 200
    assert "text" not in answer.json()
    assert state(served)[:2] == before[:2]
    # A button signed with another key is as forged.
    other = Settings(data_dir=Path("unused"), redis_url=None, secret_key="another-signing-key-0")
    assert telegram.read_button(other, real) is None


def refused_hooks(served: Served) -> list[tuple[str, int, dict[str, Any]]]:
    update = pressed(served, "stopping")
    return [
        ("wrong secret token", 403, {"update": update, "secret": "x" * 43}),
        ("no secret token", 403, {"update": update, "secret": None}),
        ("empty secret token", 403, {"update": update, "secret": ""}),
        (
            "this bot's secret token at another bot's path",
            403,
            {
                "update": update,
                "bot": "987654321",
                "secret": telegram.webhook_secret(served.engine.settings, BOT),
            },
        ),
        (
            "the secret of another bot at this bot's path",
            403,
            {
                "update": update,
                "secret": telegram.webhook_secret(served.engine.settings, "987654321"),
            },
        ),
        ("not a bot id", 403, {"update": update, "bot": "abc"}),
        (
            "wrong content type",
            415,
            {"update": update, "content_type": "application/x-www-form-urlencoded"},
        ),
        ("not JSON", 400, {"update": update, "data": b"update_id=1"}),
        ("non-UTF-8", 400, {"update": update, "data": b'{"update_id": 1, "x": "\xff"}'}),
        ("nested too deep", 400, {"update": update, "data": b"[" * 100_000}),
        ("oversized", 413, {"update": update, "data": b" " * (1024 * 1024 + 1)}),
    ]


def test_every_bad_webhook_call_is_refused_and_changes_nothing(served: Served) -> None:
    before = state(served)
    for name, status, arguments in refused_hooks(served):
        answer = hook(served, **arguments)
        assert answer.status_code == status, name
    assert state(served) == before


@pytest.mark.parametrize(
    "update",
    [
        {"update_id": 1, "edited_message": {"text": "1"}},
        {"update_id": 2, "message": {"chat": {"id": CHAT}, "photo": []}},
        {"message": {"text": "1"}},
        [],
        "text",
        None,
        {"update_id": True, "message": {"text": "1"}},
    ],
)
def test_an_update_without_an_answer_is_taken_as_ignored(served: Served, update: Any) -> None:
    before = state(served)
    answer = hook(served, update)
    assert answer.status_code == 200
    assert state(served) == before


# -- long polling -----------------------------------------------------------------------


def test_polling_takes_each_update_once_and_keeps_the_offset(
    served: Served, sink: SinkProcess
) -> None:
    sink.reset()
    start = len(sink.requests())
    first, second = pressed(served, "on_track"), written(served, "2 hulp bij de planning")
    updates = {"ok": True, "result": [second, first]}  # out of order: taken by update_id
    sink.script(body=updates, times=1, path=f"/bot{TOKEN}/getUpdates")
    sink.script(body={"ok": True, "result": True}, path=f"/bot{TOKEN}/answerCallbackQuery")
    sink.script(body={"ok": True, "result": {}}, path=f"/bot{TOKEN}/sendMessage")
    engine = served.engine
    assert telegram.poll_updates(engine, served.now(), wait=0) == 2
    offset = engine.store.get_record(records.TELEGRAM_OFFSETS, BOT)
    assert offset is not None and offset["offset"] == second["update_id"] + 1
    assert served.row("tom")["status"] == "need_help"
    calls = sink.requests()[start:]
    paths = [call["path"].rpartition("/")[2] for call in calls]
    assert paths == ["getUpdates", "answerCallbackQuery", "sendMessage"]
    assert json.loads(calls[1]["body"])["callback_query_id"] == first["callback_query"]["id"]

    # The next poll asks from the offset; the same updates again change nothing.
    after = state(served)
    sink.script(body=updates, times=1, path=f"/bot{TOKEN}/getUpdates")
    assert telegram.poll_updates(engine, served.now(), wait=0) == 0
    asked = json.loads(sink.requests()[-1]["body"])
    assert asked["offset"] == second["update_id"] + 1
    assert asked["allowed_updates"] == ["message", "callback_query"]
    assert state(served) == after
    sink.reset()


def test_a_bot_with_a_webhook_is_not_polled_and_its_webhook_stays(
    served: Served, sink: SinkProcess
) -> None:
    sink.reset()
    start = len(sink.requests())
    conflict = {
        "ok": False,
        "error_code": 409,
        "description": "Conflict: can't use getUpdates method while webhook is active",
    }
    sink.script(409, body=conflict, path=f"/bot{TOKEN}/getUpdates")
    before = state(served)
    assert telegram.poll_updates(served.engine, served.now(), wait=0) == 0
    paths = [call["path"].rpartition("/")[2] for call in sink.requests()[start:]]
    assert paths == ["getUpdates"]  # no deleteWebhook behind the operator's back
    assert state(served) == before
    sink.reset()


# -- the webhook command ----------------------------------------------------------------


def webhook_cli(tmp_path: Path, sink: SinkProcess, base_url: str = "https://pk.example") -> Any:
    plan_file = tmp_path / "plan.yaml"
    data = minimal_data()
    data["communication"]["channels"]["telegram"] = {"token": "env:TG_TOKEN", "chat_id": CHAT}
    plan_file.write_text(dump(data), encoding="utf-8")
    return run_cli(
        "telegram",
        "webhook",
        str(plan_file),
        TG_TOKEN=TOKEN,
        PACTKEEPER_TELEGRAM_API_URL=sink.url,
        PACTKEEPER_BASE_URL=base_url,
        PACTKEEPER_SECRET_KEY=KEY,
        PACTKEEPER_DATA_DIR=str(tmp_path / "data"),
    )


def test_telegram_webhook_registers_the_bot_with_its_secret(
    tmp_path: Path, sink: SinkProcess, served: Served
) -> None:
    sink.reset()
    start = len(sink.requests())
    sink.script(body={"ok": True, "result": True, "description": "Webhook was set"})
    done = webhook_cli(tmp_path, sink)
    assert done.returncode == 0, done.stderr
    assert f"https://pk.example/inbound/telegram/{BOT}" in done.stdout
    calls = sink.requests()[start:]
    assert [call["path"] for call in calls] == [f"/bot{TOKEN}/setWebhook"]
    sent = json.loads(calls[0]["body"])
    assert sent == {
        "url": f"https://pk.example/inbound/telegram/{BOT}",
        "secret_token": telegram.webhook_secret(served.engine.settings, BOT),
        "allowed_updates": ["message", "callback_query"],
    }
    assert TOKEN not in done.stdout + done.stderr
    sink.reset()


def test_telegram_webhook_says_why_it_cannot(tmp_path: Path, sink: SinkProcess) -> None:
    sink.reset()
    refusal = {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: bad webhook: Failed to resolve host",
    }
    sink.script(400, body=refusal, times=1)
    refused = webhook_cli(tmp_path, sink)
    assert refused.returncode == 1
    assert refused.stderr.startswith("pactkeeper: telegram webhook: ")
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "Traceback" not in refused.stderr and TOKEN not in refused.stderr
    plain = webhook_cli(tmp_path, sink, base_url="http://localhost:8000")
    assert plain.returncode == 1
    assert "https://" in plain.stderr
    sink.reset()


# -- the buttons ------------------------------------------------------------------------


def test_a_check_in_request_carries_four_signed_buttons(served: Served, sink: SinkProcess) -> None:
    settings = served.engine.settings
    key = request_of(served).key
    buttons = telegram.buttons(settings, key, "nl")
    assert [label for label, _ in buttons] == [
        "1. Op schema",
        "2. Ik heb hulp nodig",
        "3. Ik zit vast",
        "4. Ik moet stoppen",
    ]
    assert all(len(data.encode()) <= 64 for _, data in buttons)
    assert [telegram.read_button(settings, data) for _, data in buttons] == [
        (key, status) for status in ("on_track", "need_help", "blocked", "stopping")
    ]
    sink.reset()
    start = len(sink.requests())
    channel = served.plan.communication.channels.telegram
    connector = TelegramConnector(channel, settings)
    message = Message(
        key=key,
        plan_id=served.plan.id,
        kind="checkin_request",
        channel="telegram",
        recipient=Recipient("tom", "Tom", language="nl"),
        subject="Hoe gaat het?",
        text="Laat even weten hoe het gaat.",
        extra={"buttons": buttons},
    )
    connector.send(message)
    sent = json.loads(sink.requests()[start]["body"])
    assert sent["reply_markup"] == {
        "inline_keyboard": [[{"text": label, "callback_data": data}] for label, data in buttons]
    }
