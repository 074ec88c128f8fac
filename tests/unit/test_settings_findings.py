"""Settings that cannot be used stop a process at start, with one line naming them.

Each test is named after the finding it guards: an empty or short signing key, a
lost key file next to a store, and settings the user can fix (a value of the wrong
type, an unreadable ``_FILE``, a DATA_DIR that is a file).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import MIN_KEY_BYTES, SQLITE_STORE, Settings, SettingsError
from worker import tokens

GOOD_KEY = "k3y-" * 8


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No PACTKEEPER_ setting of the caller, and no .env file, reaches these tests."""
    for name in [name for name in os.environ if name.startswith("PACTKEEPER_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield


def refusal(**settings: object) -> str:
    with pytest.raises(SettingsError) as caught:
        Settings(**settings)
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- finding 2: an empty or short signing key ---------------------------------------


@pytest.mark.parametrize("value", ["", " ", "short", "x" * (MIN_KEY_BYTES - 1)])
def test_an_empty_signing_key_is_refused(
    value: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PACTKEEPER_SECRET_KEY", value)
    message = refusal(data_dir=tmp_path / "data")
    assert message.startswith("PACTKEEPER_SECRET_KEY ")
    assert f"at least {MIN_KEY_BYTES}" in message
    assert not (tmp_path / "data" / "secret_key").exists()  # no key made up instead


@pytest.mark.parametrize("content", ["", "\n", "abc\n"])
def test_an_empty_signing_key_file_is_refused(content: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "secret_key").write_text(content)
    message = refusal(data_dir=data)
    assert f"the signing key file {data / 'secret_key'} " in message
    assert (data / "secret_key").read_text() == content  # left for the operator to restore


def test_an_empty_signing_key_from_a_file_setting_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "key").write_text("\n")
    monkeypatch.setenv("PACTKEEPER_SECRET_KEY_FILE", str(tmp_path / "key"))
    message = refusal(data_dir=tmp_path / "data")
    assert f"PACTKEEPER_SECRET_KEY_FILE names ({tmp_path / 'key'}) is empty" in message


def test_a_token_made_with_an_empty_key_is_never_accepted() -> None:
    now = time.time()
    for key in (b"", b"x" * (MIN_KEY_BYTES - 1)):
        forged = tokens.sign(key, "status", {"p": "base"}, now + 3600)
        with pytest.raises(tokens.TokenError):
            tokens.verify(key, forged, "status", now)
        with pytest.raises(tokens.TokenError):
            tokens.verify(GOOD_KEY.encode(), forged, "status", now)
    genuine = tokens.sign(GOOD_KEY.encode(), "status", {"p": "base"}, now + 3600)
    assert tokens.verify(GOOD_KEY.encode(), genuine, "status", now).fields == {"p": "base"}


def test_a_first_start_still_generates_a_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = Settings(data_dir=data).signing_key
    assert len(key) >= 32
    assert (data / "secret_key").read_bytes().strip() == key
    assert Settings(data_dir=data).signing_key == key  # the next process reads the same


# -- finding 20: a lost key file next to a store --------------------------------------


def test_a_lost_signing_key_next_to_a_store_is_not_replaced(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old = Settings(data_dir=data).signing_key
    (data / SQLITE_STORE).write_bytes(b"")  # the store the partnerships live in
    (data / "secret_key").rename(tmp_path / "secret_key.bak")
    message = refusal(data_dir=data)
    assert f"the signing key {data / 'secret_key'} is missing" in message
    assert str(data / SQLITE_STORE) in message
    assert "restore the file" in message and "PACTKEEPER_SECRET_KEY" in message
    assert not (data / "secret_key").exists()
    # Either way back works: the old key in the environment, or the file restored.
    assert Settings(data_dir=data, secret_key=old.decode()).signing_key == old
    (tmp_path / "secret_key.bak").rename(data / "secret_key")
    assert Settings(data_dir=data).signing_key == old


# -- finding 21: settings the user can fix --------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PACTKEEPER_SWEEP_INTERVAL", "abc", "PACTKEEPER_SWEEP_INTERVAL='abc' is not valid: "),
        ("PACTKEEPER_SWEEP_INTERVAL", "0", "expected a number greater than 0"),
        ("PACTKEEPER_WEB_PORT", "eighty", "PACTKEEPER_WEB_PORT='eighty' is not valid"),
        ("PACTKEEPER_SMTP_TLS", "yes", "expected one of 'starttls', 'ssl' or 'none'"),
        ("PACTKEEPER_TWILIO_CONTENT_SIDS", "not json", "expected a JSON object"),
        ("PACTKEEPER_TWILIO_CONTENT_SIDS", "[1, 2]", "PACTKEEPER_TWILIO_CONTENT_SIDS="),
    ],
)
def test_a_bad_setting_names_the_variable_and_what_it_takes(
    variable: str, value: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    assert expected in refusal()


def test_a_secret_setting_is_not_repeated_in_its_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PACTKEEPER_SECRET_KEY", "hunter2")
    assert "hunter2" not in refusal()


def test_a_missing_file_setting_names_the_variable_and_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PACTKEEPER_SMTP_PASSWORD_FILE", str(tmp_path / "nonexistent"))
    message = refusal()
    assert message == (
        f"PACTKEEPER_SMTP_PASSWORD_FILE={tmp_path / 'nonexistent'} cannot be read: "
        "No such file or directory"
    )


def test_a_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("not a folder")
    assert refusal(data_dir=tmp_path / "plain") == (
        f"PACTKEEPER_DATA_DIR={tmp_path / 'plain'} is a file, not a folder"
    )
    below = tmp_path / "plain" / "data"
    assert refusal(data_dir=below).endswith(f": {tmp_path / 'plain'} is a file, not a folder")


def test_valid_settings_still_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACTKEEPER_SWEEP_INTERVAL", "2.5")
    monkeypatch.setenv("PACTKEEPER_TWILIO_CONTENT_SIDS", '{"reminder": "HX1"}')
    settings = Settings()
    assert (settings.sweep_interval, settings.twilio_content_sids) == (2.5, {"reminder": "HX1"})
