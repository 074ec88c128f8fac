"""A real Dovecot for the tests: Debian's dovecot-imapd as the test's own process.

``Dovecot(folder).start()`` writes its own configuration into ``folder`` (no system
configuration is read: ``dovecot -F -c CONF``), with a self-signed certificate made by
``openssl`` for ``127.0.0.1``, listens on two free loopback ports (``imap`` with
STARTTLS, ``imaps``) and is stopped by pid. Any user name, one password
(``PASSWORD``; a static passdb), so each test can have a mailbox of its own; mail is a
maildir per user under ``folder/mail``, whose folder separator is Dovecot's default ``.``
(so ``pactkeeper/done`` is ``pactkeeper.done``). ``remove`` stops it and removes the mail.

As root, Dovecot runs its processes as the package's ``dovecot`` and ``dovenull`` users
and refuses uid 0 for mail, so the mail folder belongs to ``dovecot``; as an ordinary
user every process, and the mail, is that user's.

``deliver`` puts a message into a folder with IMAP APPEND, as a mail server would (no
fsync: a test's mail need not survive a power cut, and APPEND is four times faster).
``plain`` runs it with ``ssl = no`` (no STARTTLS, no imaps): plain IMAP on loopback.
``without_move`` leaves MOVE and UIDPLUS out of the capabilities Dovecot announces, so
the poller's COPY + STORE + EXPUNGE path runs against the same server.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import signal
import ssl
import subprocess
import tempfile
import textwrap
from pathlib import Path

from tests.servers import free_port, wait_for_port
from tests.smtp_sink import make_certificate

PASSWORD = "imap-test-secret"
USER = "reply@org.example"
# What Dovecot 2.3 announces after login, less MOVE and UIDPLUS (see ``without_move``).
BARE_CAPABILITIES = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES "
    "THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN "
    "NAMESPACE LITERAL+ BINARY"
)


def dovecot_binary() -> str:
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/sbin")
    if found is None:
        raise FileNotFoundError("dovecot is not installed: apt-get install dovecot-imapd")
    return found


class Dovecot:
    def __init__(self, folder: Path, without_move: bool = False, plain: bool = False) -> None:
        self.folder = folder
        self.without_move = without_move
        self.plain = plain
        self.port = free_port()
        self.tls_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        # As root the mail belongs to ``dovecot``, which cannot enter pytest's folders
        # (mode 0700): its mail lives in a folder of its own under the system's tmp.
        self.mail_root = (
            Path(tempfile.mkdtemp(prefix="pk-dovecot-")) if os.geteuid() == 0 else folder
        )
        if os.geteuid() == 0:
            self.mail_root.chmod(0o755)

    @property
    def cert(self) -> Path:
        return self.folder / "cert.pem"

    @property
    def log(self) -> Path:
        return self.folder / "dovecot.log"

    def url(self, tls: bool = True, folder: str = "INBOX", user: str = USER) -> str:
        """The poller's ``PACTKEEPER_IMAP_URL`` for this server."""
        quoted = user.replace("@", "%40")
        if tls:
            return f"imaps://{quoted}@127.0.0.1:{self.tls_port}/{folder}"
        return f"imap://{quoted}@127.0.0.1:{self.port}/{folder}"

    def start(self) -> Dovecot:
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self.cert.exists():
            make_certificate(self.folder)  # cert.pem and key.pem, for 127.0.0.1
        config = self.folder / "dovecot.conf"
        config.write_text(self._config(), encoding="utf-8")
        with self.log.open("ab") as errors:  # what dovecot says before its log is open
            self.process = subprocess.Popen(
                [dovecot_binary(), "-F", "-c", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
        try:
            wait_for_port(self.port)
            if not self.plain:
                wait_for_port(self.tls_port)
        except TimeoutError:
            self.stop()  # no server left behind; its log says why it did not listen
            raise TimeoutError(f"dovecot did not start: {self.log.read_text()[-2000:]}") from None
        return self

    def stop(self) -> None:
        """SIGTERM to the master (it ends its children), by pid; SIGKILL if it hangs."""
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def remove(self) -> None:
        """Stop it and remove the mail folder kept outside ``folder`` (as root)."""
        self.stop()
        if self.mail_root != self.folder:
            shutil.rmtree(self.mail_root, ignore_errors=True)

    def client(self, user: str = USER) -> imaplib.IMAP4:
        """A logged-in client of the test's own (to deliver and to look)."""
        if self.plain:
            client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        else:
            context = ssl.create_default_context(cafile=str(self.cert))
            client = imaplib.IMAP4_SSL("127.0.0.1", self.tls_port, ssl_context=context, timeout=10)
        client.login(user, PASSWORD)
        return client

    def deliver(self, messages: list[bytes], folder: str = "INBOX", user: str = USER) -> None:
        client = self.client(user)
        try:
            for raw in messages:
                status, answer = client.append(folder, "", None, raw)
                if status != "OK":
                    raise RuntimeError(f"APPEND refused: {answer!r}")
        finally:
            client.logout()

    def count(self, folder: str, user: str = USER) -> int:
        """How many messages ``folder`` holds (0 when it does not exist)."""
        client = self.client(user)
        try:
            status, answer = client.select(folder, readonly=True)
            return int(answer[0] or 0) if status == "OK" else 0
        finally:
            client.logout()

    def messages(self, folder: str, user: str = USER) -> list[bytes]:
        client = self.client(user)
        try:
            status, _ = client.select(folder, readonly=True)
            if status != "OK":
                return []
            _, found = client.uid("SEARCH", "ALL")
            uids = found[0].split() if found and found[0] else []
            raws = []
            for uid in uids:
                _, parts = client.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
                raws.extend(p[1] for p in parts if isinstance(p, tuple))
            return raws
        finally:
            client.logout()

    def _users(self) -> tuple[str, str, str, pwd.struct_passwd]:
        """(internal user and group, login user, mail user): Dovecot's own as root, else
        ours."""
        if os.geteuid() == 0:
            return "dovecot", "dovecot", "dovenull", pwd.getpwnam("dovecot")
        me = pwd.getpwuid(os.geteuid())
        return me.pw_name, grp.getgrgid(os.getegid()).gr_name, me.pw_name, me

    def _config(self) -> str:
        internal, group, login, mail_user = self._users()
        mail, home = self.mail_root / "mail", self.mail_root / "home"
        for path in (mail, home):
            path.mkdir(exist_ok=True)
            if os.geteuid() == 0:
                os.chown(path, mail_user.pw_uid, mail_user.pw_gid)
        capability = f"imap_capability = {BARE_CAPABILITIES}" if self.without_move else ""
        # ``plain``: no TLS at all, so no STARTTLS is offered, and imaps listens nowhere.
        tls, imaps = ("no", 0) if self.plain else ("yes", self.tls_port)
        return textwrap.dedent(
            f"""\
            instance_name = pk-test-{self.tls_port}
            base_dir = {self.folder / "run"}
            state_dir = {self.folder / "state"}
            log_path = {self.log}
            protocols = imap
            listen = 127.0.0.1
            ssl = {tls}
            ssl_cert = <{self.cert}
            ssl_key = <{self.folder / "key.pem"}
            disable_plaintext_auth = no
            auth_mechanisms = plain login
            auth_failure_delay = 0
            mail_fsync = never
            default_internal_user = {internal}
            default_internal_group = {group}
            default_login_user = {login}
            first_valid_uid = 1
            mail_location = maildir:{mail}/%u
            {capability}
            passdb {{
              driver = static
              args = password={PASSWORD}
            }}
            userdb {{
              driver = static
              args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={home}/%u
            }}
            service imap-login {{
              chroot =
              inet_listener imap {{
                address = 127.0.0.1
                port = {self.port}
              }}
              inet_listener imaps {{
                address = 127.0.0.1
                port = {imaps}
                ssl = {tls}
              }}
            }}
            service anvil {{
              chroot =
            }}
            service stats {{
              unix_listener stats-writer {{
                mode = 0666
              }}
            }}
            """
        )
