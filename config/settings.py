"""Deployment settings: environment variables with the prefix ``PACTKEEPER_``.

Every setting can also come from a ``.env`` file in the working directory.
Secrets can come from a file instead: ``PACTKEEPER_SMTP_PASSWORD_FILE=/run/secrets/smtp``
reads the password from that file (the Docker and Kubernetes convention).
Secrets are ``SecretStr``: masked in every repr, log line and exception.
"""

from __future__ import annotations

import os
import secrets as token_source
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

PREFIX = "PACTKEEPER_"


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
        path = os.environ.get(f"{PREFIX}{field_name.upper()}_FILE")
        if not path:
            return None, field_name, False
        return Path(path).read_text(encoding="utf-8").strip(), field_name, False

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
    plans_dir: Path | None = None
    clock_offset: float = 0.0  # seconds added to the system clock (``run --as-of``)
    sweep_interval: float = Field(10.0, gt=0)
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
    twilio_content_sids: dict[str, str] = Field(default_factory=dict)

    http_connect_timeout: float = 5.0
    http_read_timeout: float = 20.0
    handover_attach_limit: int = 10_000_000

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

    @cached_property
    def signing_key(self) -> bytes:
        """The key that signs links and feed tokens; generated into DATA_DIR once when unset."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # Write aside, then link: two processes starting at once agree on one key.
            draft = path.with_name(f"secret_key.{os.getpid()}")
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
