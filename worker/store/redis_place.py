"""Where the Redis is and how to reach it: a URL, TLS files, or Sentinels that name the primary.

One description serves the store (redis-py) and the broker (kombu), so the two
can never disagree about which server is the primary. Settings check the
combinations first (``config.settings.redis_problem``); here they are only
turned into connection arguments. A password is in the URL (a secret) and is
never put into a message: ``shown`` gives the place without it.

With Sentinels, every new connection asks them for the primary's address, and a
connection that finds the old primary gone or demoted (READONLY) is dropped and
made again: redis-py's ``SentinelManagedConnection``, retried by the store's
Retry through the seconds a failover takes (docs/redis-ha.md).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

import redis
from redis import sentinel as redis_sentinel
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from config.settings import Settings, redis_scheme, sentinel_addresses

# redis-py's Sentinel has no type hints.
Sentinel: Any = redis_sentinel.Sentinel


@dataclass(frozen=True)
class RedisPlace:
    """``url``: the primary's URL (with Sentinels its host is not used); ``tls``: redis-py's
    ``ssl_*`` arguments; ``sentinels`` and ``master``: where to ask for the primary."""

    url: str
    tls: dict[str, Any] = field(default_factory=dict)
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str | None = None
    sentinel_password: str | None = None

    @property
    def parts(self) -> SplitResult:
        return urlsplit(self.url)

    @property
    def password(self) -> str | None:
        password = self.parts.password
        return unquote(password) if password else None

    @property
    def username(self) -> str | None:
        username = self.parts.username
        return unquote(username) if username else None

    @property
    def db(self) -> int:
        path = self.parts.path.strip("/")
        return int(path) if path.isdigit() else 0

    @property
    def secure(self) -> bool:
        return self.parts.scheme == "rediss"

    def shown(self) -> str:
        """The place for a message: no password, ever."""
        if self.sentinels:
            hosts = ",".join(f"{host}:{port}" for host, port in self.sentinels)
            return f"primary {self.master!r} of the Sentinels {hosts}"
        parts = self.parts
        return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


def place_of(settings: Settings) -> RedisPlace:
    """The place the settings name (PACTKEEPER_REDIS_URL must be set)."""
    assert settings.redis_url is not None
    url = settings.redis_url.get_secret_value()
    tls = tls_arguments(settings)
    sentinels: tuple[tuple[str, int], ...] = ()
    if settings.redis_sentinels:
        sentinels = tuple(sentinel_addresses(settings.redis_sentinels))
    elif redis_scheme(settings) == "sentinel":
        sentinels, url = _kombu_form(url, settings.redis_master or "", secure=bool(tls))
    if sentinels and tls and not url.startswith("rediss://"):
        url = "rediss://" + url.partition("://")[2]
    secret = settings.redis_sentinel_password
    return RedisPlace(
        url=url,
        tls=tls,
        sentinels=sentinels,
        master=settings.redis_master if sentinels else None,
        sentinel_password=secret.get_secret_value() if secret is not None else None,
    )


def _kombu_form(url: str, master: str, secure: bool) -> tuple[tuple[tuple[str, int], ...], str]:
    """``sentinel://[:pw@]host:port[/db];sentinel://host:port``: the Sentinels, and the
    primary's URL with the first password and database given."""
    sentinels, userinfo, db = [], "", "0"
    for part in (p.strip() for p in url.split(";") if p.strip()):
        parts = urlsplit(part)
        sentinels.append((parts.hostname or "localhost", parts.port or 26379))
        if not userinfo and "@" in parts.netloc:
            userinfo = parts.netloc.rpartition("@")[0] + "@"
        if parts.path.strip("/").isdigit() and db == "0":
            db = parts.path.strip("/")
    scheme = "rediss" if secure else "redis"
    return tuple(sentinels), f"{scheme}://{userinfo}{master}/{db}"


def tls_arguments(settings: Settings) -> dict[str, Any]:
    """redis-py's (and kombu's) ``ssl_*`` arguments: the server's certificate is always
    checked (CERT_REQUIRED), against the CA file when one is set."""
    scheme = redis_scheme(settings)
    files = settings.redis_tls_files
    if scheme != "rediss" and not files:
        return {}
    arguments: dict[str, Any] = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    if settings.redis_tls_ca is not None:
        arguments["ssl_ca_certs"] = str(settings.redis_tls_ca)
    if settings.redis_tls_cert is not None:
        arguments["ssl_certfile"] = str(settings.redis_tls_cert)
    if settings.redis_tls_key is not None:
        arguments["ssl_keyfile"] = str(settings.redis_tls_key)
    return arguments


def connection_options(retry_seconds: float) -> dict[str, Any]:
    """What every store connection uses: timeouts, and retries through a restart or a
    failover (each script is a compare-and-set, so a retried call changes nothing twice)."""
    retries = max(1, int(retry_seconds / 2))
    return {
        "decode_responses": True,
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
        "retry": Retry(ExponentialBackoff(cap=2.0, base=0.1), retries),
        "retry_on_error": [redis.ConnectionError, redis.TimeoutError],
        "health_check_interval": 30,
    }


def connect(place: RedisPlace, retry_seconds: float = 30.0) -> Any:
    """A client of the primary at ``place``."""
    options = connection_options(retry_seconds)
    if not place.sentinels:
        return redis.Redis.from_url(place.url, **options, **place.tls)
    sentinel = Sentinel(
        list(place.sentinels),
        sentinel_kwargs=sentinel_arguments(place),
        socket_timeout=options["socket_timeout"],
        socket_connect_timeout=options["socket_connect_timeout"],
    )
    tls = {"ssl": True, **place.tls} if place.secure else {}
    assert place.master is not None
    return sentinel.master_for(
        place.master,
        username=place.username,
        password=place.password,
        db=place.db,
        **options,
        **tls,
    )


def sentinel_arguments(place: RedisPlace) -> dict[str, Any]:
    """How to talk to the Sentinels themselves: their password, TLS like the primary's."""
    arguments: dict[str, Any] = {"socket_timeout": 5, "socket_connect_timeout": 5}
    if place.sentinel_password is not None:
        arguments["password"] = place.sentinel_password
    if place.secure:
        arguments.update(ssl=True, **place.tls)
    return arguments
