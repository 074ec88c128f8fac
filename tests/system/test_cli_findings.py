"""The command line and the web app on a data folder a careless or hostile user left.

Each test is named after what broke: an empty signing key, a lost key file next
to a store, errors the user can fix reported as "internal error", ``-o`` replacing
symlinks and device nodes, and names printed raw to the terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.servers import free_port
from tests.support import MINIMAL, ROOT, dump, minimal_data, run_cli
from worker import tokens

pytestmark = pytest.mark.system

KEY_HELP = "at least 16"


def plan_file(folder: Path, text: str = MINIMAL) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def cli(data: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, PACTKEEPER_DATA_DIR=str(data), **env)


def one_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The single line a refused command printed, after checking its exit code."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def synced(tmp_path: Path) -> Path:
    """A data folder with the minimal plan registered (and so a key and a store)."""
    data = tmp_path / "data"
    assert cli(data, "sync", str(plan_file(tmp_path))).returncode == 0
    return data


def web(data: Path, port: int, **env: str) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PACTKEEPER_")}
    clean.update(PACTKEEPER_DATA_DIR=str(data), PYTHONPATH=str(ROOT), **env)
    command = [sys.executable, "-m", "uvicorn", "web.app:app", "--port", str(port)]
    return subprocess.Popen(
        command, env=clean, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def refused_start(data: Path, **env: str) -> str:
    """The web app's output when it stops at start; fails if it serves instead."""
    process = web(data, free_port(), **env)
    try:
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode != 0
    # One line that names the problem, not a traceback under it.
    assert "Traceback" not in output and output.startswith("pactkeeper web: "), output
    return output


# -- finding 2: an empty or short signing key -----------------------------------------


def test_an_empty_signing_key_is_refused(tmp_path: Path) -> None:
    data = synced(tmp_path)
    key_file = data / "secret_key"
    key_file.write_text("")
    line = one_line(cli(data, "status"), 1)
    assert line.startswith(f"pactkeeper: the signing key file {key_file} is empty")
    assert KEY_HELP in line
    line = one_line(cli(data, "status", "--link", "test-plan", PACTKEEPER_SECRET_KEY=""), 1)
    assert line.startswith("pactkeeper: PACTKEEPER_SECRET_KEY is empty")
    line = one_line(cli(data, "sync", str(tmp_path / "plan.yaml"), PACTKEEPER_SECRET_KEY="abc"), 1)
    assert "PACTKEEPER_SECRET_KEY holds a key of only 3 bytes" in line
    assert f"{key_file} is empty" in refused_start(data)
    assert "PACTKEEPER_SECRET_KEY is empty" in refused_start(data, PACTKEEPER_SECRET_KEY="")


def test_a_link_forged_with_an_empty_key_is_refused_by_the_web_app(tmp_path: Path) -> None:
    data = synced(tmp_path)
    genuine = one_line_output(cli(data, "status", "--link", "test-plan"))
    port = free_port()
    process = web(data, port)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base, process)
        now = time.time()
        forged = {
            "status": tokens.sign(b"", "status", {"p": "test-plan"}, now + 86400),
            "checkin": tokens.sign(b"", "checkin", {"p": "test-plan", "u": "tim", "w": "x"}),
        }
        assert get(f"{base}/api/status/test-plan/{forged['status']}") == 403
        assert post_checkin(base, forged["checkin"]) == 403
        feed = tokens.sign(b"", "feed", {"p": "test-plan", "u": ""})
        assert get(f"{base}/feeds/test-plan/{feed}.ics") in (403, 404)
        path = genuine.split("/status/", 1)[1]
        assert get(f"{base}/api/status/{path}") == 200  # the real link still works
    finally:
        process.terminate()
        process.wait(timeout=20)


def one_line_output(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def wait_until_serving(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the web app stopped"
        try:
            if get(f"{base}/health") == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{base} does not answer")


def get(url: str) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def post_checkin(base: str, token: str) -> int:
    import json
    import urllib.error
    import urllib.request

    body = json.dumps({"token": token, "status": "stopping"}).encode()
    request = urllib.request.Request(
        f"{base}/api/checkins", body, {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


# -- finding 20: a lost key file next to a store ---------------------------------------


def test_a_lost_signing_key_next_to_a_store_is_refused_not_replaced(tmp_path: Path) -> None:
    data = synced(tmp_path)
    link = one_line_output(cli(data, "status", "--link", "test-plan"))
    key_file = data / "secret_key"
    key_file.rename(tmp_path / "secret_key.bak")
    for command in (["status"], ["status", "--link", "test-plan"], ["run"]):
        line = one_line(cli(data, *command, PACTKEEPER_WEB_PORT=str(free_port())), 1)
        assert f"the signing key {key_file} is missing" in line
        assert "restore the file from a backup" in line
    assert "is missing" in refused_start(data)
    assert not key_file.exists()  # nothing made a new key behind the operator's back
    (tmp_path / "secret_key.bak").rename(key_file)
    assert one_line_output(cli(data, "status", "--link", "test-plan")) == link


def test_a_first_start_makes_the_key_before_the_store(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    result = cli(data, "status")
    assert result.returncode == 0, result.stderr
    assert (data / "secret_key").stat().st_size >= 32
    assert (data / "pactkeeper.sqlite3").exists()
    assert cli(data, "status").returncode == 0


# -- finding 21: errors the user can fix ----------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PACTKEEPER_SWEEP_INTERVAL": "abc"}, "PACTKEEPER_SWEEP_INTERVAL='abc' is not valid"),
        ({"PACTKEEPER_SWEEP_INTERVAL": "0"}, "expected a number greater than 0"),
        ({"PACTKEEPER_TWILIO_CONTENT_SIDS": "not json"}, "expected a JSON object"),
        ({"PACTKEEPER_SMTP_PASSWORD_FILE": "/nonexistent"}, "PACTKEEPER_SMTP_PASSWORD_FILE="),
        ({"PACTKEEPER_DATA_DIR": "/etc/passwd"}, "/etc/passwd is a file, not a folder"),
    ],
)
def test_a_bad_setting_is_one_line_with_exit_1(
    env: dict[str, str], expected: str, tmp_path: Path
) -> None:
    result = run_cli("status", **{"PACTKEEPER_DATA_DIR": str(tmp_path / "data"), **env})
    assert expected in one_line(result, 1)


def test_an_unreachable_redis_is_one_line_with_exit_1(tmp_path: Path) -> None:
    url = f"redis://:password@127.0.0.1:{free_port()}/0"
    line = one_line(cli(tmp_path / "data", "status", PACTKEEPER_REDIS_URL=url), 1)
    assert line.startswith("pactkeeper: cannot reach the Redis store (PACTKEEPER_REDIS_URL)")
    assert "password" not in line


def test_a_lost_signing_key_next_to_a_redis_store_is_refused_not_replaced(tmp_path: Path) -> None:
    """Redis keeps the ledger apart from DATA_DIR: a second folder (a lost volume, another
    container) makes a new key, which the store's fingerprint of the first key refuses."""
    from tests.servers import RedisServer

    server = RedisServer(tmp_path / "redis").start()
    try:
        redis = {"PACTKEEPER_REDIS_URL": server.url}
        first = tmp_path / "first"
        assert cli(first, "sync", str(plan_file(tmp_path)), **redis).returncode == 0
        assert cli(first, "status", **redis).returncode == 0  # the same key: fine
        line = one_line(cli(tmp_path / "second", "status", **redis), 1)
        assert "the signing key is not the one that signed the links" in line
        assert "redis-cli -u URL HDEL pk:rec:deployment signing-key" in line
        key = (first / "secret_key").read_text()
        assert key not in line  # neither the key nor its fingerprint is shown
        # The old key, given as a setting, is accepted again from any folder.
        again = cli(tmp_path / "second", "status", PACTKEEPER_SECRET_KEY=key, **redis)
        assert again.returncode == 0, again.stderr
    finally:
        server.stop()


@pytest.mark.parametrize("damage", ["header", "middle"])
def test_a_damaged_store_is_named_and_run_starts_nothing(damage: str, tmp_path: Path) -> None:
    data = synced(tmp_path)
    store = data / "pactkeeper.sqlite3"
    content = bytearray(store.read_bytes())
    # The header and the schema, or every page after the first (the plans and items).
    damaged = range(0, 8192) if damage == "header" else range(4096, len(content))
    content[damaged.start : damaged.stop] = os.urandom(len(damaged))
    store.write_bytes(bytes(content))
    line = one_line(cli(data, "status"), 1)
    assert f"the store {store} is damaged" in line
    result = cli(data, "run", PACTKEEPER_WEB_PORT=str(free_port()))
    assert f"the store {store} is damaged" in one_line(result, 1)
    assert result.stdout == ""  # no banner: no worker and no web app were started


def test_bad_option_values_are_usage_errors_with_exit_2(tmp_path: Path) -> None:
    plan = plan_file(tmp_path)
    data = synced(tmp_path)
    (tmp_path / "a-file").write_text("")
    cases = [
        (["ics", str(plan), "-o", "/"], "pactkeeper: -o: / is a folder; name a file"),
        (["ics", str(plan), "-o", str(tmp_path)], f"pactkeeper: -o: {tmp_path} is a folder"),
        (
            ["simulate", str(plan), "--until", "2027-02-01", "--out", str(tmp_path / "a-file")],
            f"pactkeeper: --out: {tmp_path / 'a-file'} is a file; name a folder",
        ),
        (
            ["simulate", str(plan), "--until", "soon", "--out", str(tmp_path / "s")],
            "pactkeeper: --until: 'soon' is not a date",
        ),
        (["run", "--as-of", "tomorrow"], "pactkeeper: --as-of: 'tomorrow' is not an ISO 8601"),
        (["checkin", str(plan), "tim", "--at", "later"], "pactkeeper: --at: 'later' is not a"),
    ]
    for args, expected in cases:
        assert one_line(cli(data, *args), 2).startswith(expected), args
    assert not (tmp_path / "s").exists()


# -- finding 19: -o writes through symlinks and into pipes ------------------------------


def test_output_goes_through_a_symlink_and_into_devices_and_pipes(tmp_path: Path) -> None:
    plan = plan_file(tmp_path)
    calendar = cli(tmp_path / "data", "ics", str(plan)).stdout
    assert calendar.startswith("BEGIN:VCALENDAR")
    # A symlink to a regular file: the file gets the calendar, the link stays a link.
    real = tmp_path / "real.ics"
    real.write_text("original")
    real.chmod(0o640)
    (tmp_path / "out.ics").symlink_to("real.ics")
    assert cli(tmp_path / "data", "ics", str(plan), "-o", str(tmp_path / "out.ics")).returncode == 0
    assert (tmp_path / "out.ics").is_symlink() and real.read_text() == calendar
    assert real.stat().st_mode & 0o777 == 0o640
    # A symlink to this process's stdout, /proc/self/fd/1: the text arrives on stdout.
    (tmp_path / "stdout").symlink_to("/proc/self/fd/1")
    result = cli(tmp_path / "data", "runbook", str(plan), "-o", str(tmp_path / "stdout"))
    assert result.returncode == 0 and result.stdout.startswith("# ")
    assert (tmp_path / "stdout").is_symlink()
    # /dev/stdout opened to append: what was there stays.
    log = tmp_path / "log.txt"
    log.write_text("earlier\n")
    with log.open("a") as appended:
        subprocess.run(
            [sys.executable, "-m", "worker.run.cli", "ics", str(plan), "-o", "/dev/stdout"],
            stdout=appended,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=True,
            timeout=120,
        )
    assert log.read_text() == "earlier\n" + calendar
    # A named pipe: written into, never replaced by a file.
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text()))
    reader.start()
    assert cli(tmp_path / "data", "ics", str(plan), "-o", str(pipe)).returncode == 0
    reader.join(timeout=60)
    assert received == [calendar]
    assert pipe.is_fifo()


# -- finding 18: plan text is escaped for the terminal ---------------------------------


def test_names_printed_by_the_cli_are_escaped_for_the_terminal(tmp_path: Path) -> None:
    data = minimal_data()
    data["people"][1]["name"] = "Tim\x1b[31mRED\x07"
    plan = plan_file(tmp_path, dump(data))
    result = cli(tmp_path / "data", "sync", str(plan))
    shown = result.stdout + result.stderr
    assert "\x1b" not in shown and "\x07" not in shown
    if result.returncode == 0:  # (a stricter plan check may refuse such a name instead)
        assert "feed of Tim\\x1b[31mRED\\x07: " in result.stdout
    clean = tmp_path / "clean"
    plan = plan_file(clean)
    person = one_line(cli(clean / "data", "checkin", str(plan), "t\x1bim"), 1)
    assert "'t\\x1bim'" in person
