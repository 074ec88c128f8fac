"""A real SMTP server for the tests: aiosmtpd on loopback, run as its own process.

    python -m tests.smtp_sink --port N --dir FOLDER [--tls none|starttls|ssl]
                              [--cert C --key K] [--auth USER:PASSWORD] [--reject ADDRESS]...

Every accepted message is written to FOLDER as ``<n>.eml`` with a line in
``FOLDER/index.jsonl`` (envelope sender, recipients, Message-ID). Recipients
steer the answers: a local part starting ``tempfail`` gets 451, ``reject`` gets
550, ``slow`` makes the server sit on its first DATA reply for a Message-ID for
30 s (the client times out after the message went out: an unknown outcome). An address given
with ``--reject`` gets 550 quoting it, as Postfix words it. ``start_smtp`` starts
it on a free port and ``SmtpSink.stop`` kills it by pid.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class Recorder:
    def __init__(self, folder: Path, reject: tuple[str, ...] = ()) -> None:
        self.folder = folder
        self.reject = {address.lower() for address in reject}
        self.lock = threading.Lock()
        self.stalled: set[str] = set()
        self.count = len(list(folder.glob("*.eml"))) if folder.exists() else 0
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        local = address.split("@", maxsplit=1)[0].lower()
        if local.startswith("tempfail"):
            return "451 4.3.0 Mailbox temporarily unavailable"
        if local.startswith("reject"):
            return "550 5.1.1 No such user"
        if address.lower() in self.reject:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data: bytes = envelope.original_content or envelope.content
        parsed = message_from_bytes(data, policy=policy.default)
        slow = any(r.split("@")[0].lower().startswith("slow") for r in envelope.rcpt_tos)
        with self.lock:
            self.count += 1
            number = self.count
            (self.folder / f"{number:05d}.eml").write_bytes(data)
            entry = {
                "n": number,
                "from": envelope.mail_from,
                "to": envelope.rcpt_tos,
                "message_id": parsed.get("Message-ID"),
                "tls": server.transport.get_extra_info("ssl_object") is not None,
            }
            with (self.folder / "index.jsonl").open("a") as index:
                index.write(json.dumps(entry) + "\n")
        if slow and parsed.get("Message-ID") not in self.stalled:
            # The first time: keep the message, then never answer in time, so the client
            # cannot know whether it arrived (the reply to DATA is what got lost).
            self.stalled.add(parsed.get("Message-ID"))
            await asyncio.sleep(30)
        return "250 Message accepted"


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl is on every machine here)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def serve(
    port: int,
    folder: Path,
    tls: str,
    cert: str | None,
    key: str | None,
    auth: str | None,
    reject: tuple[str, ...] = (),
) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    context = None
    if tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert), str(key))

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and auth == (
            f"{data.login.decode()}:{data.password.decode()}"
        )
        # handled=False: aiosmtpd then answers 535 itself (handled=True means "I replied").
        return AuthResult(success=ok, handled=False)

    options: dict[str, Any] = {}
    if auth:
        options.update(
            authenticator=authenticator,
            # Implicit TLS is TLS from the first byte; aiosmtpd only counts STARTTLS as TLS.
            auth_require_tls=tls == "starttls",
            auth_exclude_mechanism=["CRAM-MD5"],
        )
    if tls == "starttls":
        options.update(tls_context=context, require_starttls=True)
    controller = Controller(
        Recorder(folder, reject),
        hostname="127.0.0.1",
        port=port,
        ssl_context=context if tls == "ssl" else None,
        server_kwargs=options,
    )
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    controller.stop()


@dataclass
class SmtpSink:
    port: int
    folder: Path
    process: subprocess.Popen[str]
    cert: Path | None = None

    def messages(self) -> list[EmailMessage]:
        found = []
        for path in sorted(self.folder.glob("*.eml")):
            parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            found.append(parsed)
        return found

    def index(self) -> list[dict[str, Any]]:
        path = self.folder / "index.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def start_smtp(
    folder: Path, tls: str = "none", auth: str | None = None, reject: tuple[str, ...] = ()
) -> SmtpSink:
    from tests.servers import free_port, wait_for_port

    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "tests.smtp_sink",
        "--port",
        str(port),
        "--dir",
        str(folder / "mail"),
        "--tls",
        tls,
    ]
    cert = None
    if tls != "none":
        cert, key = make_certificate(folder)
        command += ["--cert", str(cert), "--key", str(key)]
    if auth:
        command += ["--auth", auth]
    for address in reject:
        command += ["--reject", address]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + 20
    while process.stdout.readline().strip() != "ready":
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the SMTP sink did not start")
    wait_for_port(port)
    return SmtpSink(port, folder / "mail", process, cert)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--tls", choices=("none", "starttls", "ssl"), default="none")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--auth")
    parser.add_argument("--reject", action="append", default=[], help="answer 550 to it")
    args = parser.parse_args()
    serve(args.port, args.dir, args.tls, args.cert, args.key, args.auth, tuple(args.reject))


if __name__ == "__main__":
    main()
