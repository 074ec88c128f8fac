"""The one place that speaks HTTP: a session, timeouts, and what an answer means.

Every chat connector posts through ``post``. It never retries by itself: a
retry is a new due entry in the engine's ledger, after a backoff that honours
the service's Retry-After. A timeout before the request went out is
``transient``; a read timeout after it went out is ``unknown`` (the service may
have acted on it), which the engine never blindly repeats.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from connectors.base import ConnectorError

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
        _sessions[pid] = fresh
    return _sessions[pid]


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
) -> requests.Response:
    """POST and classify: return a 2xx response or raise ``ConnectorError``."""
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
    except requests.exceptions.ConnectTimeout:
        raise ConnectorError("transient", f"{service}: connection timed out") from None
    except requests.exceptions.ReadTimeout:
        raise ConnectorError(
            "unknown", f"{service}: no answer within {timeout[1]:g} s after the request was sent"
        ) from None
    except requests.exceptions.ConnectionError as error:
        raise _connection_error(service, error) from None
    except requests.exceptions.RequestException as error:
        raise ConnectorError("unknown", f"{service}: {type(error).__name__}") from None
    classify(response, service)
    return response


def _connection_error(service: str, error: requests.exceptions.ConnectionError) -> ConnectorError:
    # A connection error can also happen while reading the answer; requests wraps
    # those as ProtocolError / ChunkedEncodingError: the request may have arrived.
    text = repr(error.args[0]) if error.args else ""
    if "RemoteDisconnected" in text or "ProtocolError" in text:
        return ConnectorError("unknown", f"{service}: the connection broke during the request")
    return ConnectorError("transient", f"{service}: cannot connect")


def classify(response: requests.Response, service: str) -> None:
    """Raise ``ConnectorError`` for any answer that is not a success."""
    status = response.status_code
    if 200 <= status < 300:
        return
    reason = f"{service}: HTTP {status}"
    if status in {429, 408} or status >= 500:
        raise ConnectorError("transient", reason, retry_after(response.headers.get("Retry-After")))
    if status in PERMANENT or 300 <= status < 500:
        raise ConnectorError("permanent", f"{reason}{_detail(response)}")
    raise ConnectorError("unknown", reason)


def _detail(response: requests.Response) -> str:
    """A short, secret-free hint from the service's error body (Slack says e.g. 'no_service')."""
    text = response.text.strip()[:80] if response.text else ""
    return f" ({text})" if text and "http" not in text.lower() and "\n" not in text else ""


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
