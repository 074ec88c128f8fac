"""The Celery app, built from Settings.

Broker: Redis when ``PACTKEEPER_REDIS_URL`` is set, otherwise a filesystem
transport under the data folder (the embedded default: no server to install;
``worker.run.broker`` says why it is not kombu's own). Workers acknowledge late and
take one task at a time. A task whose worker was killed goes back to the Redis
queue; the embedded broker forgets it, and the claims it carried come back when
their lease ends. Either way the ledger makes a second run of a delivery a no-op.
Beat runs the sweep every ``SWEEP_INTERVAL``
seconds, the reaper, the IMAP poller when ``PACTKEEPER_IMAP_URL`` is set, and (under
``pactkeeper run``) the plan-folder watcher.
Nothing is ever scheduled with an ETA or countdown.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from datetime import UTC, datetime
from typing import Any

from celery import Celery, signals
from celery.exceptions import SecurityWarning

from config.settings import Settings
from worker import datafolder, logfilter
from worker.run import broker
from worker.store.redis_place import place_of, sentinel_arguments

TASK_TIME_LIMIT = 300  # no delivery may hold a worker longer; every call out has a timeout
TELEGRAM_POLL_INTERVAL = 5.0  # seconds; each poll holds getUpdates open for a part of it
PURGE_INTERVAL = 24 * 3600.0  # seconds between purges of plans past their keep_days


def redis_url(settings: Settings) -> str | None:
    """The Redis broker's URL; None for the embedded broker (always in a rehearsal)."""
    if settings.redis_url is None or datafolder.rehearsing():
        return None
    return settings.redis_url.get_secret_value()


def broker_url(settings: Settings) -> str:
    """The Redis URL, or kombu's Sentinel form (``sentinel://h:p/db;sentinel://h:p``) when
    the store finds its primary through Sentinels: both ask the same Sentinels."""
    url = redis_url(settings)
    if url is None:
        return "filesystem://"
    place = place_of(settings)
    if not place.sentinels:
        return url
    userinfo = place.parts.netloc.rpartition("@")[0]
    userinfo += "@" if userinfo else ""
    return ";".join(
        f"sentinel://{userinfo}{host}:{port}/{place.db}" for host, port in place.sentinels
    )


def broker_ssl(settings: Settings) -> dict[str, Any] | None:
    """kombu's ``ssl_*`` options for a TLS Redis (the server's certificate is checked)."""
    if redis_url(settings) is None:
        return None
    return place_of(settings).tls or None


def broker_transport(settings: Settings) -> str | None:
    """The transport class for the embedded broker, named explicitly (None: from the URL)."""
    return None if redis_url(settings) else broker.NAME


def transport_options(settings: Settings) -> dict[str, Any]:
    if redis_url(settings):
        # Only short tasks are queued, so a task older than this is a lost one.
        options: dict[str, Any] = {"visibility_timeout": 3600}
        place = place_of(settings)
        if place.sentinels:
            options.update(master_name=place.master, sentinel_kwargs=sentinel_arguments(place))
        return options
    # Each worker looks for new messages this often when idle or busy: kombu's default of
    # 1 s let a worker take about one task a second while its prefetch was full.
    return {**broker.transport_options(settings.data_dir / "broker"), "polling_interval": 0.1}


def beat_schedule(settings: Settings) -> dict[str, Any]:
    interval = settings.sweep_interval
    schedule: dict[str, Any] = {
        # A sweep that waited in the queue longer than one interval is replaced by the next.
        "sweep": {
            "task": "pactkeeper.sweep",
            "schedule": interval,
            "options": {"expires": max(interval, 1.0)},
        },
        "reap": {
            "task": "pactkeeper.reap",
            "schedule": settings.reap_interval,
            "options": {"expires": settings.reap_interval},
        },
    }
    if settings.imap_url is not None and not datafolder.rehearsing():
        # A rehearsal never takes the real mailbox's replies (docs/replies-imap.md).
        schedule["imap_poll"] = {
            "task": "pactkeeper.imap_poll",
            "schedule": settings.imap_interval,
            "options": {"expires": settings.imap_interval},
        }
    if settings.embedded and not datafolder.rehearsing():
        # Telegram replies by long polling: a laptop has no public URL for a webhook. A
        # rehearsal never takes real people's button presses (the task checks it too).
        schedule["telegram"] = {
            "task": "pactkeeper.telegram_poll",
            "schedule": TELEGRAM_POLL_INTERVAL,
            "options": {"expires": TELEGRAM_POLL_INTERVAL},
        }
    if not datafolder.rehearsing():
        # Personal data past its keep_days: a day late is no harm, a purge deletes for good.
        schedule["purge"] = {
            "task": "pactkeeper.purge",
            "schedule": PURGE_INTERVAL,
            "options": {"expires": PURGE_INTERVAL},
        }
    if settings.plans_dir is not None:
        schedule["watch"] = {
            "task": "pactkeeper.watch",
            "schedule": 5.0,
            "options": {"expires": 5.0},
        }
    return schedule


def create_app(settings: Settings | None = None) -> Celery:
    settings = settings or Settings()
    celery = Celery("pactkeeper", include=["worker.run.tasks"])
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    celery.conf.update(
        broker_url=broker_url(settings),
        broker_transport=broker_transport(settings),
        broker_transport_options=transport_options(settings),
        broker_use_ssl=broker_ssl(settings),
        broker_connection_retry_on_startup=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue="pactkeeper",
        task_time_limit=TASK_TIME_LIMIT,
        timezone="UTC",
        enable_utc=True,
        beat_schedule=beat_schedule(settings),
        beat_schedule_filename=str(settings.data_dir / "beat-schedule"),
        worker_hijack_root_logger=True,
        worker_redirect_stdouts=False,
    )
    return celery


class ReadableFormatter(logging.Formatter):
    """``2027-01-11 08:00:01Z sent kickoff ...``: the time on the engine's clock (a
    rehearsal's lines carry the rehearsed moment), warnings and errors named as such."""

    def __init__(self, offset: float) -> None:
        super().__init__("%(message)s")
        self.offset = offset

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created + self.offset, UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%SZ")

    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        return f"{self.formatTime(record)} {level}{super().format(record)}"


def readable_logging(offset: float) -> None:
    """pactkeeper's own lines (deliveries, plan changes) and every warning; not Celery's
    lines about each task received and done."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ReadableFormatter(offset))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("pactkeeper").setLevel(logging.INFO)


def verbose() -> bool:
    return os.environ.get("PACTKEEPER_VERBOSE") == "1"


def _setup_logging(**_: Any) -> None:
    readable_logging(Settings().clock_offset)


def _worker_starts(**_: Any) -> None:
    """Before the worker takes a task: the folder must be this clock's (one clear line if
    not), and running as root is said once, plainly."""
    settings = Settings()
    try:
        datafolder.claim(settings.data_dir, virtual=settings.clock_offset != 0)
    except datafolder.WrongClock as error:
        print(f"pactkeeper: {error}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    if hasattr(os, "geteuid") and os.geteuid() == 0 and not verbose():
        print(
            "pactkeeper: warning: the worker runs as root; better run pactkeeper as an "
            "ordinary user",
            file=sys.stderr,
            flush=True,
        )


# Whoever makes the handlers (this module, Celery with -v), no log line names an address
# or a phone number (worker.logfilter).
logfilter.install()
if not verbose():
    # Celery's own multi-line warning about root; _worker_starts says it in one line.
    warnings.filterwarnings("ignore", category=SecurityWarning)
    signals.setup_logging.connect(_setup_logging, weak=False)
signals.worker_init.connect(_worker_starts, weak=False)

app = create_app()
