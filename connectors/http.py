"""The one place that speaks HTTP: a session, timeouts, and what an answer means.

Every chat connector posts through ``post``. It never retries by itself: a
retry is a new due entry in the engine's ledger, after a backoff that honours
the service's Retry-After. A timeout before the request went out is
``transient``; a read timeout after it went out is ``unknown`` (the service may
have acted on it), which the engine never blindly repeats.

Secrets travel in URLs (a Slack webhook path, a Telegram bot token), so nothing
here puts a URL in an error, and the urllib3 loggers get a filter that hides
URL paths in their DEBUG lines. Errors are raised outside the ``except`` block:
the requests exception (whose text holds the URL) is not even kept as
``__context__``.
"""

from __future__ import annotations

import email.utils
import json as jsonlib
import logging
import re
import time
import urllib.request
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote, urlsplit

import requests

from connectors.base import (
    Connector,
    ConnectorError,
    Destination,
    Message,
    destination,
    missing_secret,
    read_secret,
)

if TYPE_CHECKING:
    from config.settings import Settings

Response = requests.Response  # so connectors can type a classifier without importing requests
Classifier = Callable[[requests.Response, str], None]
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
USER_AGENT = "pactkeeper/0.1 (+https://pactkeeper.example)"
PERMANENT = {400, 401, 403, 404, 405, 410, 413, 422}
MAX_RETRY_AFTER = 24 * 3600.0

_sessions: dict[int, requests.Session] = {}


def session() -> requests.Session:
    """One pooled session per process: connections are reused across a batch."""
    import os

    pid = os.getpid()  # a forked worker child must not share its parent's sockets
    if pid not in _sessions:
        _sessions.clear()
        fresh = requests.Session()
        fresh.headers["User-Agent"] = USER_AGENT
        # Read the proxy and CA settings from the environment once, not on every request
        # (requests rescans os.environ per call: half a millisecond each).
        fresh.proxies = urllib.request.getproxies()
        fresh.verify = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        fresh.trust_env = False
        _sessions[pid] = fresh
    return _sessions[pid]


class _HidePaths(logging.Filter):
    """Hide URL paths in urllib3's log lines: they carry webhook secrets and bot tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_hide_path(arg) for arg in record.args)
        return True


def _hide_path(value: object) -> object:
    if not isinstance(value, str):
        return value
    if value.startswith("/"):
        return "/[path hidden]"
    if "://" in value:
        return f"{urlsplit(value).scheme}://{host_of(value)}/[path hidden]"
    return value


def hide_url_paths() -> None:
    """Filter the urllib3 loggers that are handed a URL or a path (urllib3 2.x); idempotent."""
    for name in ("connectionpool", "connection", "poolmanager", "util.retry"):
        logger = logging.getLogger(f"urllib3.{name}")
        if not any(isinstance(f, _HidePaths) for f in logger.filters):
            logger.addFilter(_HidePaths())


hide_url_paths()  # logger filters apply where a record is made, so before any request


def timeouts(settings: Settings) -> tuple[float, float]:
    """(connect, read) seconds for ``post``, from the deployment's settings."""
    return settings.http_connect_timeout, settings.http_read_timeout


def encode_json(payload: Any) -> bytes:
    """The exact bytes a JSON payload goes out as: what the outbox stores and HMAC signs."""
    return jsonlib.dumps(payload, ensure_ascii=False, indent=2).encode("utf-8")


def host_of(url: str) -> str:
    """The host of a URL, safe to log (webhook URLs carry their secret in the path)."""
    return urlsplit(url).hostname or "the service"


def post(
    url: str,
    *,
    service: str,
    json: Any = None,
    data: Any = None,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    timeout: tuple[float, float] = (5.0, 20.0),
    classify_with: Classifier | None = None,
) -> requests.Response:
    """POST and classify: return a 2xx response or raise ``ConnectorError``.

    ``classify_with`` replaces ``classify`` for services that explain errors in
    the body (Telegram's ``retry_after``, Twilio's error codes).
    """
    try:
        response = session().post(
            url,
            json=json,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.exceptions.RequestException as error:
        failure = _failure(error, service, timeout)
    else:
        (classify_with or classify)(response, service)
        return response
    raise failure  # outside the except block: no __context__ that names the URL


def request(
    method: str,
    url: str,
    *,
    service: str,
    data: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    timeout: tuple[float, float] = (5.0, 20.0),
    expect: Collection[int] = (),
) -> requests.Response:
    """Any method (PUT, DELETE, PROPFIND, REPORT, GET): a 2xx answer or one of ``expect``.

    Every other answer is classified as ``post`` classifies it. ``expect`` names the
    answers the caller reads itself (a CalDAV client expects 404, 409 and 412). Like
    ``post`` it never retries: whether a method may be repeated is the caller's call.
    """
    try:
        response = session().request(
            method,
            url,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.exceptions.RequestException as error:
        failure = _failure(error, service, timeout)
    else:
        if response.status_code not in expect:
            classify(response, service)
        return response
    raise failure  # outside the except block: no __context__ that names the URL


def _failure(
    error: requests.exceptions.RequestException, service: str, timeout: tuple[float, float]
) -> ConnectorError:
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return ConnectorError("transient", f"{service}: connection timed out")
    if isinstance(error, requests.exceptions.ReadTimeout):
        return ConnectorError(
            "unknown", f"{service}: no answer within {timeout[1]:g} s after the request was sent"
        )
    if isinstance(error, requests.exceptions.ConnectionError):
        return _connection_error(service, error)
    return ConnectorError("unknown", f"{service}: {type(error).__name__}")


def _connection_error(service: str, error: requests.exceptions.ConnectionError) -> ConnectorError:
    # A connection error can also happen while reading the answer; requests wraps
    # those as ProtocolError / ChunkedEncodingError: the request may have arrived.
    text = repr(error.args[0]) if error.args else ""
    if "RemoteDisconnected" in text or "ProtocolError" in text:
        return ConnectorError("unknown", f"{service}: the connection broke during the request")
    return ConnectorError("transient", f"{service}: cannot connect")


def classify(response: requests.Response, service: str, hint: str | None = None) -> None:
    """Raise ``ConnectorError`` for any answer that is not a success.

    ``hint`` replaces the snippet of the body in a permanent error's text, for
    services whose body needs reading; it is scrubbed like the body.
    """
    status = response.status_code
    if 200 <= status < 300:
        return
    reason = f"{service}: HTTP {status}"
    if status in {429, 408} or status >= 500:
        wait = retry_after(response.headers.get("Retry-After"))
        raise ConnectorError("transient", reason, wait, throttled=status == 429)
    if status in PERMANENT or 300 <= status < 500:
        text = scrubbed(hint, response.url, 100) if hint else _detail(response)
        raise ConnectorError("permanent", f"{reason}{f' ({text})' if text else ''}")
    raise ConnectorError("unknown", reason)


# Words a service's error text may keep: Slack's "no_service", Mattermost's "webhook
# channel locked", Telegram's "Bad Request: chat not found", a chat id, an error number.
WORD = re.compile(r"[-+]?[A-Za-z0-9][A-Za-z0-9_.'-]*[.,:;!?]?", re.ASCII)
ERROR_FIELDS = ("error", "message", "code", "id")


def _detail(response: requests.Response) -> str:
    """A short, secret-free hint from the service's error body (Slack says e.g. 'no_service').

    Receivers echo the request (Express: "Cannot POST /services/T000/B000/SECRET"), and
    the URL is the secret, so only plain words stay: no path, no URL, no part of the
    request's own URL, no long token-like string.
    """
    text = (response.text or "").strip()
    if text.startswith("{"):
        text = _error_field(text)
    if not text or "\n" in text or text.startswith("<") or len(text) > 400:
        return ""  # an HTML page or a long dump is not a hint
    return scrubbed(text, response.url, 80)


def _error_field(text: str) -> str:
    """The error text of a JSON body (``{"error": ...}``, ``{"message": ...}``), if any."""
    try:
        body = jsonlib.loads(text)
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    found = (body.get(name) for name in ERROR_FIELDS)
    return next((value for value in found if isinstance(value, str) and value), "")


def scrubbed(text: str, url: str, limit: int) -> str:
    """``text`` without the words that could be (part of) a secret, cut at a word."""
    secrets = [part for part in re.split(r"[/?&=#:@]", unquote(url)) if len(part) >= 4]
    kept: list[str] = []
    for word in text.split():
        if _plain(word, secrets) and len(" ".join([*kept, word])) <= limit:
            kept.append(word)
    return " ".join(kept)


def _plain(word: str, secrets: list[str]) -> bool:
    if not WORD.fullmatch(word) or "http" in word.lower():
        return False
    core = word.strip(".,:;!?+-")
    if _token_like(core):
        return False
    return not any(part in word or (len(core) >= 4 and core in part) for part in secrets)


def _token_like(word: str) -> bool:
    """A bot token, a webhook id, a signature: long, or letters and digits mixed."""
    mixed = re.search(r"\d", word) is not None and re.search(r"[A-Za-z]", word) is not None
    return len(word) >= 24 or (len(word) >= 12 and mixed)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait, from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    delta = when.timestamp() - (time.time() if now is None else now)
    return min(max(delta, 0.0), MAX_RETRY_AFTER)


class IncomingWebhook(Connector):
    """A chat service's incoming webhook: POST the JSON ``payload`` to the secret URL.

    Slack, Teams and Mattermost differ only in the payload they take; the plan's
    channel section holds ``webhook: env:NAME``.
    """

    service: ClassVar[str] = ""

    def payload(self, message: Message) -> dict[str, Any]:
        raise NotImplementedError

    def unready(self) -> str | None:
        return missing_secret(self.config.webhook)

    def render(self, message: Message) -> tuple[str, bytes]:
        return "json", encode_json(self.payload(message))

    def destinations(self, message: Message) -> list[Destination]:
        """The webhook: Slack and Teams limit each one (config/pacing.py)."""
        return [destination(self.channel, read_secret(self.config.webhook))]

    def send(self, message: Message) -> None:
        post(
            read_secret(self.config.webhook),
            service=self.service,
            data=self.rendered(message)[1],
            headers=JSON_HEADERS,
            timeout=timeouts(self.settings),
        )
