"""Thin Celery tasks: ids in, a plain function with ``now``, nothing else (docs/architecture §1)."""

from __future__ import annotations

from config.settings import Settings
from worker import clock, datafolder
from worker.delivery import dispatch
from worker.engine import Engine
from worker.inbound import imap
from worker.run.app import app
from worker.store import Claim

_engine: Engine | None = None


def engine() -> Engine:
    """The process's engine, created on first use (after a worker child has forked)."""
    global _engine  # noqa: PLW0603 - one engine per worker process
    if _engine is None:
        settings = Settings()
        clock.from_settings(settings.clock_offset)
        # A rehearsal's messages speak of days that have not come: they stay in its outbox.
        _engine = Engine(settings, outbox_only=datafolder.rehearsing())
    return _engine


def use_engine(chosen: Engine) -> None:
    """Run the tasks on this engine (``simulate`` and tests)."""
    global _engine  # noqa: PLW0603
    _engine = chosen


# Claims travel in small groups: one task per claim would spend more on the broker
# than on the delivery. A group killed half way loses nothing: its remaining claims
# are delivered when the task is redelivered, or return to the due index with the lease.
GROUP = 10


@app.task(name="pactkeeper.sweep", ignore_result=True)
def sweep() -> int:
    now = clock.now()
    claims = dispatch.sweep(engine(), now)
    steps = [c for c in claims if c.kind in dispatch.BATCH_STEPS]
    if steps:
        dispatch.run_steps(engine(), steps, now)
    rest = [c for c in claims if c.kind not in dispatch.BATCH_STEPS]
    for start in range(0, len(rest), GROUP):
        deliver.delay([[c.key, c.token] for c in rest[start : start + GROUP]])
    return len(claims)


@app.task(name="pactkeeper.deliver", ignore_result=True)
def deliver(claims: list[list[str]]) -> None:
    for key, token in claims:
        dispatch.deliver(engine(), Claim(key, token), clock.now())


@app.task(name="pactkeeper.reap", ignore_result=True)
def reap() -> None:
    dispatch.reap(engine(), clock.now())


@app.task(name="pactkeeper.imap_poll", ignore_result=True)
def imap_poll() -> None:
    imap.poll(engine(), clock.now())


@app.task(name="pactkeeper.watch", ignore_result=True)
def watch() -> None:
    from worker.plans.watch import resync_folder

    folder = engine().settings.plans_dir
    if folder is not None:
        resync_folder(engine(), folder, clock.now())


@app.task(name="pactkeeper.telegram_poll", ignore_result=True)
def telegram_poll() -> int:
    """Take the Telegram bots' waiting updates (the embedded default has no webhook). Not in a
    rehearsal: real people's answers never go into a rehearsed store."""
    from worker.inbound.telegram import poll_updates

    if engine().outbox_only:
        return 0
    return poll_updates(engine(), clock.now())


@app.task(name="pactkeeper.purge", ignore_result=True)
def purge() -> int:
    """Erase the personal data of the plans past their keep_days (worker/privacy/retention.py).
    Not in a rehearsal or a simulation: a purge deletes for good."""
    from worker.privacy import retention

    if engine().outbox_only or engine().settings.clock_offset:
        return 0
    return len(retention.purge_due(engine(), clock.now()))
