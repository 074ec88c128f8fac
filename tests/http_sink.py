"""A local HTTP server standing in for chat APIs: it records what arrives and answers as told.

Run it as a real process (tests that kill or crash workers need one)::

    python -m tests.http_sink --port 0 --log requests.jsonl [--script rules.json]

It prints ``ready http://127.0.0.1:PORT`` once it listens. Every request except
those to ``/_control`` is appended to the log as one JSON line, flushed at once
and before any scripted delay, so a request that arrived is on file even if the
answer never leaves: ``{"at", "method", "path", "headers", "body", "status"}``.

Answers follow a script: a FIFO list of rules, each ``{"status", "headers",
"body", "delay", "times", "path"}``. A request takes the first rule whose
``path`` is a prefix of its path; ``times`` counts down (absent: for ever) and a
spent rule leaves the list. No rule: 200 ``ok``. A ``body`` that is not a string
is sent as JSON. ``POST /_control`` with a rule appends it; ``DELETE /_control``
empties the script; ``GET /_control`` shows it.

A rule with ``"rate": N`` (and ``"per"`` seconds, 1 by default) is a rate limit, as
chat services keep one: it answers (its ``status``, e.g. 429 with Retry-After) only
when N requests for its path were let through in the last ``per`` seconds, and
otherwise lets the request through to the rules after it. Its clock is the system's,
or the one a test sets with ``POST /_control/clock`` ``{"now": SECONDS}``, so an engine
on a virtual clock and the limit read the same time.

In tests: ``sink = start_sink(tmp_path)``; ``sink.url``, ``sink.script(status=429,
headers={"Retry-After": "3"}, times=1)``, ``sink.limit(1, path="/services/")``,
``sink.set_clock(now)``, ``sink.requests()``, ``sink.reset()``, ``sink.stop()`` (kills
the process by its pid).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONTROL = "/_control"


class Script:
    """The rules, shared by the server's threads."""

    def __init__(self, rules: list[dict[str, Any]] | None = None) -> None:
        self.lock = threading.Lock()
        self.rules: list[dict[str, Any]] = list(rules or [])
        self.clock: float | None = None  # set by a test on a virtual clock
        self.passed: dict[int, list[float]] = {}  # per rate rule: when requests went through

    def now(self) -> float:
        return time.time() if self.clock is None else self.clock

    def answer(self, path: str) -> dict[str, Any]:
        with self.lock:
            for rule in self.rules:
                if path.startswith(rule.get("path", "/")):
                    if rule.get("rate") is not None and self._lets_through(rule):
                        continue
                    if rule.get("times") is not None:
                        rule["times"] -= 1
                        if rule["times"] <= 0:
                            self.rules.remove(rule)
                    return rule
        return {}

    def _lets_through(self, rule: dict[str, Any]) -> bool:
        """True (and counted) while the rule's window holds fewer than ``rate`` requests."""
        now, per = self.now(), float(rule.get("per") or 1.0)
        window = [at for at in self.passed.get(id(rule), []) if at > now - per]
        if len(window) >= float(rule["rate"]):
            self.passed[id(rule)] = window
            return False
        self.passed[id(rule)] = [*window, now]
        return True


class Sink(ThreadingHTTPServer):
    daemon_threads = True  # a thread sleeping through a scripted delay must not hold up exit

    def __init__(self, address: tuple[str, int], log: Path, script: Script) -> None:
        super().__init__(address, Handler)
        self.script = script
        self.log_lock = threading.Lock()
        self.log_file = log.open("a", encoding="utf-8")

    def record(self, entry: dict[str, Any]) -> None:
        with self.log_lock:
            self.log_file.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self.log_file.flush()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The client gave up (a read timeout) before the scripted answer: expected here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    server: Sink
    protocol_version = "HTTP/1.1"  # keep-alive, as the real services and requests' pool use
    # Headers and body leave in separate writes; with Nagle on, each answer waits for the
    # client's delayed ACK (about 40 ms), which would make the sink the bottleneck.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the JSON-lines log is the record."""

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            # The sender died mid-request (a killed worker): like a real service, the sink
            # never acts on half a request, and it records nothing of it.
            self.close_connection = True
            return
        if self.path.startswith(CONTROL):
            self._control(body)
            return
        rule = self.server.script.answer(self.path)
        status = int(rule.get("status", 200))
        self.server.record(
            {
                "at": time.time(),
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers.items()),
                "body": body.decode("utf-8", errors="replace"),
                "status": status,
            }
        )
        time.sleep(float(rule.get("delay") or 0))
        self._reply(status, rule.get("body", "ok"), rule.get("headers"))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def _control(self, body: bytes) -> None:
        script = self.server.script
        with script.lock:
            if self.path == f"{CONTROL}/clock":
                script.clock = float(json.loads(body)["now"])
            elif self.command == "POST":
                script.rules.append(json.loads(body))
            elif self.command == "DELETE":
                script.rules.clear()
            rules = list(script.rules)
        self._reply(200, {"rules": rules}, None)

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None) -> None:
        if isinstance(body, str):
            data, kind = body.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            data, kind = json.dumps(body).encode("utf-8"), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def serve(port: int, log: Path, rules: list[dict[str, Any]]) -> None:
    server = Sink(("127.0.0.1", port), log, Script(rules))
    # SIGTERM ends serve_forever normally, so the log file is closed cleanly.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"ready http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        server.log_file.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--log", type=Path, required=True, help="JSON-lines file of requests")
    parser.add_argument("--script", type=Path, help="a JSON list of rules to start with")
    options = parser.parse_args(argv)
    rules = json.loads(options.script.read_text(encoding="utf-8")) if options.script else []
    serve(options.port, options.log, rules)


# -- the test side ----------------------------------------------------------------


@dataclass
class SinkProcess:
    url: str
    log: Path
    process: subprocess.Popen[str]

    @property
    def pid(self) -> int:
        return self.process.pid

    def requests(self) -> list[dict[str, Any]]:
        """Every request recorded so far, oldest first."""
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def script(
        self,
        status: int = 200,
        *,
        headers: dict[str, str] | None = None,
        body: Any = "ok",
        delay: float = 0.0,
        times: int | None = None,
        path: str = "/",
    ) -> None:
        rule = {"status": status, "headers": headers or {}, "body": body, "delay": delay}
        rule |= {"path": path} | ({"times": times} if times is not None else {})
        self._control("POST", json.dumps(rule).encode())

    def limit(
        self,
        rate: float,
        *,
        per: float = 1.0,
        path: str = "/",
        status: int = 429,
        retry_after: str = "1",
        body: Any = "rate_limited",
    ) -> None:
        """Answer ``status`` with Retry-After above ``rate`` requests per ``per`` seconds."""
        rule = {"rate": rate, "per": per, "path": path, "status": status, "body": body}
        rule["headers"] = {"Retry-After": retry_after}
        self._control("POST", json.dumps(rule).encode())

    def set_clock(self, now: float) -> None:
        """The time the rate rules read from now on (a test's virtual clock)."""
        self._control("POST", json.dumps({"now": now}).encode(), "/clock")

    def reset(self) -> None:
        self._control("DELETE", None)

    def _control(self, method: str, data: bytes | None, tail: str = "") -> None:
        request = urllib.request.Request(f"{self.url}{CONTROL}{tail}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=5) as answer:
            answer.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        if self.process.stdout:
            self.process.stdout.close()


def start_sink(folder: Path, timeout: float = 10.0) -> SinkProcess:
    """Start the sink as a subprocess on a free port and wait until it listens."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "http_sink.jsonl"
    stderr = (folder / "http_sink.stderr").open("a", encoding="utf-8")
    with stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.http_sink", "--port", "0", "--log", str(log)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    if not line.startswith("ready "):
        process.kill()
        process.wait()
        raise RuntimeError(f"the HTTP sink did not start: see {folder / 'http_sink.stderr'}")
    return SinkProcess(url=line.split()[1], log=log, process=process)


@contextlib.contextmanager
def refusing_url() -> Iterator[str]:
    """A URL nobody listens on: the port is bound but not listening, so connects are refused.

    Holding the socket keeps another process from taking the port meanwhile.
    """
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{holder.getsockname()[1]}"
    finally:
        holder.close()


if __name__ == "__main__":
    main()
