"""Deployment settings: environment variables with the prefix ``PACTKEEPER_``.

Every setting can also come from a ``.env`` file in the working directory.
Secrets can come from a file instead: ``PACTKEEPER_SMTP_PASSWORD_FILE=/run/secrets/smtp``
reads the password from that file (the Docker and Kubernetes convention).
Secrets are ``SecretStr``: masked in every repr, log line and exception.

A setting that cannot be used stops every process at start with one line that
names it (``SettingsError``): a value of the wrong type, an unreadable ``_FILE``,
a DATA_DIR that is a file, or a signing key that is too short or missing while
the store holds state (a new key would silently break every link already sent).
"""

from __future__ import annotations

import json
import os
import secrets as token_source
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from config.errors import SettingsError
from config.pacing import Rule as PaceRule
from config.pacing import rules as read_pacing

PREFIX = "PACTKEEPER_"
# An empty key (a truncated file, a blank line in .env) makes every link forgeable, and a
# short one can be guessed from a single link. 16 bytes is 128 bits, above the 112 that
# NIST SP 800-131A asks of an HMAC key; the key generated into DATA_DIR has 256.
MIN_KEY_BYTES = 16
KEY_FILE = "secret_key"
SQLITE_STORE = "pactkeeper.sqlite3"  # the embedded store, in DATA_DIR
NEW_KEY = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


class SecretMissing(LookupError):
    """A plan names ``env:NAME`` and neither NAME nor NAME_FILE is set."""


def read_env_secret(name: str) -> SecretStr:
    """The value of environment variable ``name``, or of the file ``name_FILE`` points to."""
    if name in os.environ:
        return SecretStr(os.environ[name])
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return SecretStr(Path(path).read_text(encoding="utf-8").strip())
        except OSError as error:
            raise SecretMissing(
                f"{name}_FILE points to {path}, which cannot be read: {error.strerror}"
            ) from None
    raise SecretMissing(f"the environment variable {name} (or {name}_FILE) is not set")


class FileSecretsSource(PydanticBaseSettingsSource):
    """``PACTKEEPER_X_FILE=/path`` sets ``x`` from the file's contents (stripped)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        variable = f"{PREFIX}{field_name.upper()}_FILE"
        path = os.environ.get(variable)
        if not path:
            return None, field_name, False
        try:
            return Path(path).read_text(encoding="utf-8").strip(), field_name, False
        except OSError as error:
            raise SettingsError(f"{variable}={path} cannot be read: {error.strerror}") from None
        except UnicodeDecodeError:
            raise SettingsError(f"{variable}={path} is not UTF-8 text") from None

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                values[key] = value
        return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Path("pactkeeper-data")
    redis_url: SecretStr | None = None
    redis_prefix: str = "pk:"
    # Redis TLS and Sentinel (docs/redis-ha.md). TLS is on with a rediss:// URL; the files
    # are paths, not secrets. With Sentinels the primary is found by name, the URL (if set)
    # gives the password, database and TLS, and its host is not used.
    redis_tls_ca: Path | None = None  # trust this CA (a managed Redis's own), else the system's
    redis_tls_cert: Path | None = None  # a client certificate, for a Redis that asks for one
    redis_tls_key: Path | None = None  # its key (absent: the key is in the certificate file)
    redis_sentinels: str | None = None  # host:port,host:port,...
    redis_master: str | None = None  # the primary's name at the Sentinels ("sentinel monitor")
    redis_sentinel_password: SecretStr | None = None  # the Sentinels' own (requirepass)
    # Replicas that must hold a delivery's "sending" mark before it goes out (WAIT); unset:
    # 1 with Sentinels, else 0. A failover then cannot lose the mark and send twice.
    redis_wait_replicas: int | None = Field(None, ge=0)
    redis_wait_timeout: float = Field(0.5, gt=0)  # seconds WAIT may take
    plans_dir: Path | None = None
    clock_offset: float = 0.0  # seconds added to the system clock (``run --as-of``)
    # A paced message goes with the first sweep after its slot: at 0.25 s, 40 messages
    # into a webhook taking 1 a second went in 1.14 times the ideal, at 1 s in 2.08 times
    # (bench/bench_pacing.py). An empty sweep is one cheap script call.
    sweep_interval: float = Field(0.25, gt=0)
    # Days ahead the due index holds (the rolling horizon, docs/scaling.md); an engine
    # step tops it up halfway. 0 schedules a plan's whole timeline at once.
    horizon_days: int = Field(28, ge=0, le=3650)
    lease_seconds: float = Field(120.0, gt=0)
    reap_interval: float = Field(15.0, gt=0)
    base_url: str = "http://localhost:8000"
    secret_key: SecretStr | None = None
    organizer_email: str = "pactkeeper@localhost"
    uid_domain: str = "pactkeeper.local"
    web_host: str = "127.0.0.1"
    web_port: int = 8000

    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_from: str | None = None
    smtp_timeout: float = 30.0
    smtp_ca_file: Path | None = None  # trust this CA too (a company's own mail server)

    caldav_url: str | None = None
    caldav_user: str | None = None
    caldav_password: SecretStr | None = None

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = None
    twilio_whatsapp_from: str | None = None
    twilio_api_url: str = "https://api.twilio.com"
    telegram_api_url: str = "https://api.telegram.org"
    # NoDecode: the validator below parses the JSON, so a bad value gets a clear message.
    twilio_content_sids: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)

    # Sends per destination (config/pacing.py): NAME=RATE pairs over the defaults, or off.
    pacing: str = ""

    http_connect_timeout: float = 5.0
    http_read_timeout: float = 20.0
    handover_attach_limit: int = 10_000_000

    # Replies (docs/architecture.md §16): the address replies reach, as reply+<token>@domain.
    reply_address: str | None = None
    imap_url: str | None = None  # imaps://user@host/INBOX: the poller reads replies there
    imap_password: SecretStr | None = None
    imap_folder_done: str = "pactkeeper/done"
    imap_folder_refused: str = "pactkeeper/refused"
    imap_ca_file: Path | None = None
    imap_interval: float = Field(60.0, gt=0)
    inbound_rate: int = Field(30, gt=0)  # inbound messages one sender may send per hour
    # Days after a plan's close that its personal data is erased (a plan's
    # privacy.keep_days overrides it).
    retention_days: int = Field(365, ge=0, le=36500)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise SettingsError(explain(error)) from None
        self._check_state()
        self._check_redis()

    @field_validator("reply_address")
    @classmethod
    def _one_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        local, at, domain = value.strip().partition("@")
        if (
            not at
            or not local
            or "." not in domain
            or "+" in local
            or any(c.isspace() or c in '<>(),;:\\"[]' for c in value.strip())
        ):
            raise ValueError("expected one plain address like reply@org.example, without '+'")
        return value.strip()

    @field_validator("pacing")
    @classmethod
    def _read_pacing(cls, value: str) -> str:
        read_pacing(value)  # a PacingError (a ValueError) names what is wrong
        return value

    @field_validator("twilio_content_sids", mode="before")
    @classmethod
    def _parse_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError("not JSON") from None
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        assert isinstance(env_settings, EnvSettingsSource)
        return (init_settings, env_settings, FileSecretsSource(settings_cls), dotenv_settings)

    @property
    def embedded(self) -> bool:
        """True when no Redis is configured: SQLite store, filesystem broker."""
        return self.redis_url is None

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def key_file(self) -> Path:
        return self.data_dir / KEY_FILE

    def _check_state(self) -> None:
        """Refuse at start what would fail later: DATA_DIR a file, an unusable signing key."""
        _require_folder(self.data_dir)
        if self.secret_key is not None or self.key_file.exists() or self._holds_state():
            self.signing_key  # noqa: B018 - read (and check) the key now, not at the first link

    def _holds_state(self) -> bool:
        """True when DATA_DIR holds a store whose links were signed with some key.

        Only the embedded store is checked: Redis would need a connection here.
        """
        return self.embedded and (self.data_dir / SQLITE_STORE).exists()

    def _check_redis(self) -> None:
        """Refuse Redis settings that cannot work together, one line each. Sentinels without
        a URL get one (``redis://MASTER/0``): the URL is the switch every process reads."""
        problem = redis_problem(self)
        if problem is not None:
            raise SettingsError(problem)
        if self.redis_url is None and self.redis_sentinels and self.redis_master:
            scheme = "rediss" if self.redis_tls_files else "redis"
            self.redis_url = SecretStr(f"{scheme}://{self.redis_master}/0")

    @property
    def redis_tls_files(self) -> dict[str, Path]:
        """The TLS files that are set, by setting name."""
        files = {
            "REDIS_TLS_CA": self.redis_tls_ca,
            "REDIS_TLS_CERT": self.redis_tls_cert,
            "REDIS_TLS_KEY": self.redis_tls_key,
        }
        return {name: path for name, path in files.items() if path is not None}

    @property
    def redis_wait(self) -> int:
        """Replicas WAIT asks for after a delivery's claimed -> sending (docs/redis-ha.md)."""
        if self.redis_wait_replicas is not None:
            return self.redis_wait_replicas
        return 1 if self.redis_sentinels or redis_scheme(self) == "sentinel" else 0

    @cached_property
    def pace_rules(self) -> dict[str, PaceRule | None]:
        """The rule of every destination: the defaults with ``PACTKEEPER_PACING`` applied."""
        return read_pacing(self.pacing)

    @cached_property
    def signing_key(self) -> bytes:
        """The key that signs links and feed tokens; generated into DATA_DIR once when unset."""
        if self.secret_key is not None:
            key = self.secret_key.get_secret_value().encode()
            return _long_enough(key, _key_setting())
        path = self.key_file
        try:
            key = path.read_text(encoding="utf-8").strip().encode()
        except FileNotFoundError:
            key = self._new_key(path)
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or "it is not text"
            raise SettingsError(f"the signing key {path} cannot be read: {reason}") from None
        return _long_enough(key, f"the signing key file {path}", path)

    def _new_key(self, path: Path) -> bytes:
        if self._holds_state():
            raise SettingsError(
                f"the signing key {path} is missing, but {self.data_dir / SQLITE_STORE} holds "
                "partnerships whose links were signed with it: restore the file from a backup "
                f"or set {PREFIX}SECRET_KEY to the old key; to start over with a new key on "
                f"purpose (every link sent so far stops working), write one: {NEW_KEY} > {path}"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Write aside, then link: two processes starting at once agree on one key.
        draft = path.with_name(f"{KEY_FILE}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token_source.token_urlsafe(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
        return path.read_text(encoding="utf-8").strip().encode()


def redis_scheme(settings: Settings) -> str | None:
    """The scheme of PACTKEEPER_REDIS_URL (``sentinel`` for kombu's Sentinel form)."""
    if settings.redis_url is None:
        return None
    return settings.redis_url.get_secret_value().partition("://")[0].lower()


def sentinel_addresses(text: str) -> list[tuple[str, int]]:
    """``host:port,host:port`` as pairs; ValueError naming the entry that is not one."""
    addresses = []
    for entry in (part.strip() for part in text.split(",")):
        host, colon, port = entry.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{entry!r} is not host:port")
        addresses.append((host.strip("[]"), int(port)))
    return addresses


def redis_problem(settings: Settings) -> str | None:
    """Why the Redis settings cannot work together, or None. Names settings, never a URL
    (it may hold a password)."""
    scheme = redis_scheme(settings)
    sentinels = bool(settings.redis_sentinels) or scheme == "sentinel"
    if scheme not in (None, "redis", "rediss", "unix", "sentinel"):
        return (
            f"{PREFIX}REDIS_URL has the scheme {scheme!r}: expected redis://, rediss:// (TLS), "
            "unix:// or sentinel:// (kombu's Sentinel form)"
        )
    if settings.redis_sentinels and scheme == "sentinel":
        return (
            f"{PREFIX}REDIS_SENTINELS and a sentinel:// {PREFIX}REDIS_URL both name Sentinels: "
            "keep one of them"
        )
    if settings.redis_sentinels:
        try:
            sentinel_addresses(settings.redis_sentinels)
        except ValueError as error:
            return f"{PREFIX}REDIS_SENTINELS is not valid: {error}; expected host:port,host:port"
    if sentinels and not settings.redis_master:
        return (
            f"Sentinels are set but {PREFIX}REDIS_MASTER is not: name the primary as the "
            "Sentinels know it (the NAME of 'sentinel monitor NAME host port quorum')"
        )
    if settings.redis_master and not sentinels and scheme is not None:
        return (
            f"{PREFIX}REDIS_MASTER is set but no Sentinels are: set {PREFIX}REDIS_SENTINELS="
            "host:port,... or unset REDIS_MASTER"
        )
    return _tls_problem(settings, scheme)


def _tls_problem(settings: Settings, scheme: str | None) -> str | None:
    files = settings.redis_tls_files
    if "REDIS_TLS_KEY" in files and "REDIS_TLS_CERT" not in files:
        return f"{PREFIX}REDIS_TLS_KEY is set but {PREFIX}REDIS_TLS_CERT is not: set both"
    for name, path in files.items():
        try:
            with path.open("rb"):
                pass
        except OSError as error:
            return f"{PREFIX}{name}={path} cannot be read: {error.strerror}"
    if files and scheme in ("redis", "unix"):
        return (
            f"{PREFIX}{next(iter(files))} is set but {PREFIX}REDIS_URL is {scheme}:// (no TLS): "
            "use rediss://"
        )
    return None


def _key_setting() -> str:
    """Where an explicit key came from, for the message that refuses it."""
    variable = f"{PREFIX}SECRET_KEY"
    if variable not in os.environ and os.environ.get(f"{variable}_FILE"):
        return f"the file {variable}_FILE names ({os.environ[f'{variable}_FILE']})"
    return variable


def _long_enough(key: bytes, source: str, path: Path | None = None) -> bytes:
    if len(key) >= MIN_KEY_BYTES:
        return key
    fix = (
        f"restore it from a backup, or write a new key (links sent so far stop working): "
        f"{NEW_KEY} > {path}"
        if path is not None
        else f"unset it to have a key generated into DATA_DIR, or make one: {NEW_KEY}"
    )
    size = "is empty" if not key else f"holds a key of only {len(key)} bytes"
    raise SettingsError(
        f"{source} {size}; a signing key needs at least {MIN_KEY_BYTES}, or anyone can "
        f"forge links: {fix}"
    )


def _require_folder(path: Path) -> None:
    """DATA_DIR must be a folder, or creatable as one (no file on its way)."""
    for step in (path, *path.parents):
        if step.exists():
            if not step.is_dir():
                where = "" if step == path else f": {step}"
                raise SettingsError(f"{PREFIX}DATA_DIR={path}{where} is a file, not a folder")
            return


EXPECTED = {
    "float_parsing": "a number",
    "float_type": "a number",
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "bool_parsing": "true or false",
    "greater_than": "a number greater than {gt:g}",
    "literal_error": "one of {expected}",
}
EXPECTED_FOR = {
    "reply_address": "one plain address like reply@org.example, without '+'",
    "twilio_content_sids": 'a JSON object of message kind to template, e.g. {"reminder": "HX..."}',
}


def explain(error: ValidationError) -> str:
    """One line for pydantic's report: each variable, its value (unless secret), what it takes."""
    secret = {name for name, field in Settings.model_fields.items() if _is_secret(field)}
    problems = []
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else ""
        expected = EXPECTED_FOR.get(field) or EXPECTED.get(problem["type"], "").format(
            **problem.get("ctx", {})
        )
        value = "" if field in secret else f"={_shown(problem.get('input'))}"
        problems.append(
            f"{PREFIX}{field.upper()}{value} is not valid: "
            + (f"expected {expected}" if expected else problem["msg"].removeprefix("Value error, "))
        )
    return "; ".join(problems)


def _is_secret(field: FieldInfo) -> bool:
    return field.annotation is SecretStr or SecretStr in get_args(field.annotation)


def _shown(value: Any) -> str:
    from config.load import printable

    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return repr(printable(text[:40] + ("..." if len(text) > 40 else "")))
