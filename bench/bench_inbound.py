"""Inbound throughput: Twilio-signed posts per second through ``/inbound/twilio``, beside a
bare FastAPI endpoint that only validates the signature, in the same run.

Two uvicorn processes on loopback, one at a time: pactkeeper's own ``web.app:app`` on a
real SQLite store holding a registered plan whose check-in requests went out (``--people``
people with a phone number, the window of Monday 4 January open), and a bare FastAPI app
(this file with ``--serve-bare``) that reads the same form and checks the same signature
and answers ``<Response/>``. The load is ``--clients`` concurrent keep-alive connections
from this process (a few lines of asyncio HTTP/1.1, as ``bench_checkin_endpoint.py``),
each post from another person with a new ``MessageSid`` and a status, so every one is
taken and recorded, never a duplicate. The two are measured in turns, ``--rounds``
times each; the medians are printed with their ratio. Target (issue 12): at least 0.5.
Asserts nothing.

    python bench/bench_inbound.py [--clients 10] [--requests 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi import FastAPI, Request
from fastapi.responses import Response

from config.plan import Plan
from config.settings import Settings
from tests.engine import moment, run_until
from tests.servers import free_port, wait_for_port, web_env
from tests.support import minimal_data, plan_from
from worker.engine import Engine
from worker.inbound.twilio import HEADER, signature, valid
from worker.plans.register import register
from worker.store import open_store

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-signing-key-0123456789"
AUTH_TOKEN = "bench-twilio-auth-token"
BASE_URL = "https://pactkeeper.example"
PATH = "/inbound/twilio"
NOW = "2027-01-05 12:00"  # Tuesday: every Monday window is open
TEXTS = ("1 alles goed", "2 wacht op cijfers", "3 sleutel kwijt", "1 ok!")


def bench_plan(people: int) -> Plan:
    data = minimal_data()
    data["id"] = "bench-inbound"
    data["people"] += [
        {
            "id": f"m{n}",
            "name": f"Member {n}",
            "side": "team",
            "phone": phone(n),
            "channels": ["sms"],
        }
        for n in range(people)
    ]
    data["communication"]["channels"]["sms"] = {}
    data["checkins"] = {"every": "weekly", "on": "monday", "grace": "2d", "who": "team"}
    return plan_from(data)


def phone(n: int) -> str:
    return f"+3161{n:07d}"


def bare_app() -> FastAPI:
    """The baseline: the same content type, form and signature check, then ``<Response/>``."""
    app = FastAPI()

    @app.post(PATH)
    async def inbound(request: Request) -> Response:
        if request.headers.get("content-type", "").partition(";")[0] != (
            "application/x-www-form-urlencoded"
        ):
            return Response(status_code=415)
        pairs = parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True)
        if not valid(f"{BASE_URL}{PATH}", pairs, request.headers.get(HEADER), AUTH_TOKEN):
            return Response(status_code=403)
        return Response("<Response/>", media_type="text/xml")

    return app


def start(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    wait_for_port(port, timeout=30)
    return process


def server_env(data_dir: Path, offset: float) -> dict[str, str]:
    # The bench is one sender per person, many times: no rate limit in the way.
    settings = {"base_url": BASE_URL, "twilio_auth_token": AUTH_TOKEN, "inbound_rate": "1000000"}
    return web_env(data_dir, offset, KEY, **settings)


def uvicorn(app: str, port: int) -> list[str]:
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1"]
    return [*command, "--port", str(port), "--no-access-log", "--log-level", "warning"]


def bodies(people: int, count: int, start: int) -> list[bytes]:
    """Signed posts, person after person, each with its own MessageSid."""
    posts = []
    for i in range(start, start + count):
        fields = {
            "MessageSid": f"SM{i:032d}",
            "AccountSid": "AC0123456789abcdef0123456789abcdef",
            "From": phone(i % people),
            "To": "+3197010200300",
            "Body": TEXTS[(i // people) % len(TEXTS)],
            "NumMedia": "0",
        }
        body = urlencode(fields).encode()
        sign = signature(f"{BASE_URL}{PATH}", fields, AUTH_TOKEN)
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: pactkeeper.example\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"{HEADER}: {sign}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        posts.append(head.encode() + body)
    return posts


async def connection(port: int, requests: list[bytes], codes: dict[int, int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for raw in requests:
        writer.write(raw)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        codes[status] = codes.get(status, 0) + 1
    writer.close()
    await writer.wait_closed()


async def load(port: int, requests: list[bytes], clients: int) -> tuple[float, dict[int, int]]:
    """Posts per second over ``clients`` connections, and the answers' status counts."""
    codes: dict[int, int] = {}
    shares = [requests[n::clients] for n in range(clients)]
    started = time.perf_counter()
    await asyncio.gather(*(connection(port, share, codes) for share in shares))
    return len(requests) / (time.perf_counter() - started), codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        import uvicorn as server

        server.run(bare_app(), host="127.0.0.1", port=args.serve_bare, log_level="warning")
        return
    with tempfile.TemporaryDirectory() as folder:
        run(Path(folder), args)


def run(folder: Path, args: argparse.Namespace) -> None:
    offset = moment(NOW) - time.time()
    settings = Settings(
        clock_offset=offset,
        data_dir=folder / "data",
        redis_url=None,
        smtp_host=None,
        plans_dir=None,
        secret_key=KEY,
    )
    engine = Engine(settings, open_store(settings), outbox_only=True)
    register(engine, bench_plan(args.people), moment("2027-01-01 00:00"))
    run_until(engine, moment(NOW))  # the requests go out (to the outbox)
    engine.close()
    env = server_env(folder / "data", offset)
    ours_port, bare_port = free_port(), free_port()
    ours = start(uvicorn("web.app:app", ours_port), env, ours_port)
    bare_command = [sys.executable, __file__, "--serve-bare", str(bare_port)]
    bare = start(bare_command, env, bare_port)
    rates: dict[str, list[float]] = {"ours": [], "bare": []}
    answers: dict[str, dict[int, int]] = {"ours": {}, "bare": {}}
    sent = 0
    try:
        for port in (ours_port, bare_port):  # warm up
            asyncio.run(load(port, bodies(args.people, args.clients * 4, sent), args.clients))
            sent += args.clients * 4
        for _ in range(args.rounds):
            for name, port in (("ours", ours_port), ("bare", bare_port)):
                posts = bodies(args.people, args.requests, sent)
                sent += args.requests
                rate, codes = asyncio.run(load(port, posts, args.clients))
                rates[name].append(rate)
                for code, n in codes.items():
                    answers[name][code] = answers[name].get(code, 0) + n
    finally:
        for process in (ours, bare):
            os.kill(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
    print(
        f"POST {PATH}: {args.rounds} rounds of {args.requests} signed posts, "
        f"{args.clients} concurrent clients, {args.people} people, SQLite store"
    )
    for name, label in (
        ("ours", "pactkeeper /inbound/twilio"),
        ("bare", "bare FastAPI, signature only"),
    ):
        codes = ", ".join(f"{n} x {code}" for code, n in sorted(answers[name].items()))
        runs = ", ".join(f"{rate:.0f}" for rate in rates[name])
        print(
            f"  {label:32} median {statistics.median(rates[name]):7.0f} posts/s ({runs}; {codes})"
        )
    ratio = statistics.median(rates["ours"]) / statistics.median(rates["bare"])
    print(f"  ratio {ratio:.2f} (target >= 0.5)")


if __name__ == "__main__":
    main()
