"""A cap on request bodies, applied before a body is read (the check-in API needs no login).

Without it FastAPI reads and parses a whole JSON body before anything checks its
size: one 200 MB post to ``/api/checkins`` drove the web process to 700 MB. A
body announced larger than the cap (``Content-Length``) is refused before its
first byte is read; a body sent without a length (chunked) is counted as it
arrives and refused as soon as it passes the cap. Either way the answer is 413,
as a clear page or a ``Problem`` JSON body (``web.app.http_error``).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from worker.checkins.answers import NOTE_LIMIT

# The largest valid check-in: a note and 50 answers of NOTE_LIMIT characters each, plus
# 100 milestone ids of 64, every character written as a JSON surrogate-pair escape
# ("\ud83d\ude00", 12 bytes: the most one character can take, percent-encoded form
# fields included), plus the token and room for keys and punctuation.
LARGEST_CHARACTER = 12
LARGEST_CHECKIN = (51 * NOTE_LIMIT + 100 * 64 + 2 * 64) * LARGEST_CHARACTER + 4096
BODY_LIMIT = LARGEST_CHECKIN + 64 * 1024  # about 1.4 MB


class BodyLimit:
    """ASGI middleware: no request body over ``limit`` bytes is read."""

    def __init__(self, app: ASGIApp, limit: int = BODY_LIMIT) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, self._capped(scope, receive), send)

    def _capped(self, scope: Scope, receive: Receive) -> Receive:
        announced = _content_length(scope)
        received = 0

        async def capped() -> Message:
            nonlocal received
            # Raised where the app reads the body, so its own handler answers 413.
            if announced is not None and announced > self.limit:
                raise HTTPException(413)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413)
            return message

        return capped


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            # The server has parsed it already: it is a number, or the request never came.
            return int(value) if value.isdigit() else None
    return None
