"""Sweep, deliver, reap: exactly what is due, once (docs/architecture.md §4).

- ``sweep(now)`` claims due items with a lease; the Celery task enqueues one
  ``deliver`` per claim. Its cost follows the number due, not the number scheduled.
- ``deliver(claim, now)`` moves the ledger ``claimed -> sending -> sent | failed |
  unknown`` with a compare-and-set at each step: a second worker holding the same
  claim, or a claim whose lease was reaped, changes nothing.
- ``reap(now)`` returns expired claims to the due index and turns sends whose
  worker died into ``unknown``: re-sent only on channels that de-duplicate (e-mail
  by Message-ID), otherwise reported to the team lead and shown in ``status``.

Retries are new due times on the same key with exponential backoff, honouring
Retry-After; nothing waits in Celery with an ETA.
"""

from __future__ import annotations

import hashlib
import logging

from config.load import PlanError
from config.plan import Person, Plan
from connectors.base import ConnectorError
from worker import kinds
from worker.delivery import compose as composing
from worker.delivery import pacing
from worker.delivery.channels import choose_channel, disable, passed_over, passed_over_before
from worker.delivery.draft import Step
from worker.delivery.retry import MAX_ATTEMPTS, backoff
from worker.engine import Delivery, Engine, PlanGone, utc
from worker.logfilter import mask
from worker.store import Claim, Item, records

log = logging.getLogger("pactkeeper.dispatch")

BATCH = 500
SWEEP_ROUNDS = 10
PLAN_WAIT = 300.0  # how often an item whose stored plan does not read tries again
RESEND_DELAY = 5.0
# Raised while a message is composed or built from the plan's values (a header that
# refuses a line break, a calendar line that refuses one): the same every time.
BUILD_ERRORS = (ValueError, TypeError, AssertionError, LookupError)
# The kinds the sweep runs itself, many at once (worker.kinds says which).
BATCH_STEPS = kinds.BATCH_STEPS


def sweep(
    engine: Engine, now: float, limit: int = BATCH, rounds: int = SWEEP_ROUNDS
) -> list[Claim]:
    """Claim what is due, ``limit`` at a time, while batches come back full.

    A burst larger than one batch is taken in the same sweep, instead of one batch
    per sweep interval, up to ``rounds`` batches.
    """
    claims: list[Claim] = []
    for _ in range(rounds):
        batch = engine.store.claim(now, limit, engine.settings.lease_seconds)
        claims.extend(batch)
        if len(batch) < limit:
            break
    return claims


def run_steps(engine: Engine, claims: list[Claim], now: float) -> list[Delivery]:
    """Carry out claimed steps of the batch kinds together: read, decide, settle.

    Closing a thousand check-in windows costs a few round trips, not a thousand
    deliveries. A claim that no longer holds is left alone (its new holder runs it).
    """
    done: list[Delivery] = []
    by_kind: dict[str, list[Claim]] = {}
    for claim in claims:
        by_kind.setdefault(claim.kind, []).append(claim)
    for kind, group in by_kind.items():
        function = kinds.batch_for(kind)
        tokens = {claim.key: claim.token for claim in group}
        items = [
            i
            for i in engine.store.get_many(list(tokens))
            if i.state == "claimed" and i.token == tokens[i.key]
        ]
        unreadable = _unreadable_plans(engine, items)
        for item in (i for i in items if i.plan_id in unreadable):
            claim = Claim(item.key, tokens[item.key], kind)
            if engine.store.begin(claim, now, engine.settings.lease_seconds) is not None:
                done.append(_wait_for_plan(engine, claim, item, now, unreadable[item.plan_id]))
        items = [i for i in items if i.plan_id not in unreadable]
        results = function(engine, items, now)
        details = {i.key: r.detail for i, r in zip(items, results, strict=True)}
        held = [c for c in group if c.key in details]
        settled = set(engine.store.settle(held, now, details))
        done.extend(
            _done(engine, i, now, "done", detail=details[i.key]) for i in items if i.key in settled
        )
    return done


def _unreadable_plans(engine: Engine, items: list[Item]) -> dict[str, PlanError]:
    """The plans of ``items`` whose stored text does not read: their steps wait.

    A plan that is gone is left to the step, which settles its items as it can.
    """
    _, problems = engine.plans(sorted({item.plan_id for item in items}))
    unreadable: dict[str, PlanError] = {}
    for plan_id in problems:
        try:
            engine.plan(plan_id)
        except PlanError as error:
            unreadable[plan_id] = error
        except PlanGone:
            continue
    return unreadable


def reap(engine: Engine, now: float) -> list[str]:
    """Return expired claims; act on outcomes nobody acted on yet.

    A send whose worker died became ``unknown`` with its follow-up recorded in the
    same step; so did an ``unknown`` or ``failed`` outcome whose worker died before
    it re-sent or told the lead. Acting on one twice changes nothing (the re-send
    is a compare-and-set, the notice has a fixed key), so the reaper may also meet
    an outcome its own worker is still acting on.
    """
    result = engine.store.reap(now)
    for key in result.returned:
        log.info("lease expired, due again: %s", key)
    for key, mark in engine.store.follow_ups():
        follow_up(engine, key, mark, now)
    return result.unknown


def follow_up(engine: Engine, key: str, mark: str, now: float) -> None:
    """Re-send or report one outcome (``mark`` = ``<problem>:<attempts>``), then forget it."""
    problem = mark.partition(":")[0]
    item = engine.store.get(key)
    try:
        if item is not None and problem == "unknown":
            _after_unknown(engine, item, now)
        elif item is not None:
            _report(engine, item, now, problem)
    except PlanError:
        return  # kept: the reaper acts on it once the stored plan reads again
    engine.store.followed_up(key, mark)


def _report(engine: Engine, item: Item, now: float, problem: str) -> None:
    try:
        plan = engine.plan(item.plan_id)
    except PlanGone:
        return
    channel = item.channel_used or item.channel
    _notify_lead(engine, plan, item, now, problem, item.detail, channel)


def deliver(engine: Engine, claim: Claim, now: float) -> Delivery | None:
    """Carry out one claimed item; None when the claim no longer holds."""
    item = engine.store.begin(claim, now, engine.settings.lease_seconds)
    if item is None:
        log.debug("claim no longer holds: %s", claim.key)
        return None
    step = kinds.step_for(item.kind)
    if step is not None:
        return _step(engine, claim, item, now, step)
    return _send(engine, claim, item, now)


def _step(engine: Engine, claim: Claim, item: Item, now: float, step: Step) -> Delivery:
    try:
        result = step(engine, item, now)
    except PlanError as error:
        return _wait_for_plan(engine, claim, item, now, error)
    except PlanGone as error:
        engine.store.finish(claim, "failed", now, detail=str(error))
        return _done(engine, item, now, "failed", detail=str(error))
    engine.store.finish(claim, "sent", now, detail=result.detail)
    return _done(engine, item, now, "done", detail=result.detail)


def _send(engine: Engine, claim: Claim, item: Item, now: float) -> Delivery:
    try:
        plan = engine.plan(item.plan_id)
        person = plan.person(item.recipient or "")
    except PlanError as error:
        return _wait_for_plan(engine, claim, item, now, error)
    except (PlanGone, KeyError) as error:
        detail = f"cannot deliver: {error}"
        engine.store.finish(claim, "failed", now, detail=detail)
        return _done(engine, item, now, "failed", detail=detail)
    if person.erased:  # their data was erased (pactkeeper forget): nothing reaches them
        detail = "not sent: the person was erased"
        engine.store.finish(claim, "failed", now, detail=detail)
        return _done(engine, item, now, "failed", detail=detail)
    channel = choose_channel(engine, plan, person, item.channel, item.kind, now)
    if channel is None:
        return _no_channel(engine, claim, item, plan, person, now)
    try:
        connector, outbox = engine.connector(plan, channel)
        message = composing.compose(engine, plan, item, person, channel, now)
        # What send would put on the wire, built here: an error in it is local and
        # certain (nothing went out), not an "unknown" from the middle of a send.
        connector.prepare(message)
        paces = pacing.paces_for(engine.settings, connector.destinations(message))
    except ConnectorError as error:
        return _failed(engine, claim, item, plan, person, channel, error, now)
    except BUILD_ERRORS as error:  # this message cannot be built: trying again cannot help
        log.exception("cannot build %s %s", item.kind, item.key)
        detail = f"cannot build the message: {type(error).__name__}: {error}"
        return _give_up(engine, claim, item, now, detail, channel)
    except Exception as error:  # a missing part (a store, a file): nothing went out, try later
        log.exception("cannot prepare %s %s", item.kind, item.key)
        failure = ConnectorError(
            "transient", f"cannot prepare the message: {type(error).__name__}: {error}"
        )
        return _failed(engine, claim, item, plan, person, channel, failure, now)
    if paces and (slot := pacing.slot(engine, item, paces, now)):
        return _paced(engine, claim, item, now, slot, channel)
    try:
        connector.send(message)
    except ConnectorError as error:
        booked = pacing.slow_down(engine, item, paces, error, now)
        return _failed(engine, claim, item, plan, person, channel, error, now, booked)
    except Exception as error:  # a connector bug mid-send: it may have gone out
        log.exception("unexpected error sending %s", item.key)
        failure = ConnectorError("unknown", f"{channel}: {type(error).__name__}")
        return _failed(engine, claim, item, plan, person, channel, failure, now)
    # Why the preferred channel did not carry it (no consent, STOP, ...), by channel.
    why = passed_over_before(engine, plan, person, item.channel, channel, item.kind, now)
    engine.store.finish(claim, "sent", now, detail=why, subject=message.subject, channel=channel)
    return _done(
        engine, item, now, "sent", channel, message.subject, detail=why, outbox=outbox is not None
    )


def _paced(
    engine: Engine, claim: Claim, item: Item, now: float, slot: float, channel: str
) -> Delivery:
    """Its destination is busy: back into the due index at the slot booked for it. Not an
    attempt: the channel was not tried."""
    detail = f"{pacing.PACED}{channel} destination busy; slot at {utc(slot):%H:%M:%S}Z"
    engine.store.retry(claim, slot, detail, channel, counted=False)
    return _done(engine, item, now, "retry", channel, detail=detail)


def _no_channel(
    engine: Engine, claim: Claim, item: Item, plan: Plan, person: Person, now: float
) -> Delivery:
    """No channel of the person may carry the message. Where every one failed before, the
    lead was told then, once per channel; a channel passed over for another reason (an
    opt-out, a closed WhatsApp session) was not, so the lead hears of this message."""
    failures = {
        t["channel"]: t["reason"]
        for t in engine.store.records(records.channel_targets(plan.id)).values()
        if t.get("person") == person.id
    }
    reasons = {
        channel: passed_over(engine, plan, person, channel, item.kind, now) or ""
        for channel in person.channels
    }
    told = all(reason == "failed" for reason in reasons.values())
    detail = "; ".join(
        f"{channel}: {failures.get(channel, reason) if reason == 'failed' else reason}"
        for channel, reason in reasons.items()
    )
    return _give_up(
        engine,
        claim,
        item,
        now,
        f"no working channel left ({detail})",
        item.channel,
        problem="" if told else "failed",
    )


def _wait_for_plan(
    engine: Engine, claim: Claim, item: Item, now: float, error: PlanError
) -> Delivery:
    """The stored plan no longer reads (a stricter rule after an upgrade, a damaged
    store): nothing can be sent, and nothing may be lost. The item waits with backoff,
    however long, and goes out once the plan is fixed; ``Engine.plan`` logs the alert.
    The wait counts no attempt: the channel was never tried, and a plan fixed after a
    long wait must still get every retry a send is allowed."""
    due = now + PLAN_WAIT
    reason = str(error).splitlines()[0]
    detail = f"waiting: the plan cannot be read ({reason})"
    engine.store.retry(claim, due, detail, item.channel, counted=False)
    return _done(
        engine, item, now, "retry", detail=f"{detail}; again at {utc(due):%Y-%m-%d %H:%M:%S}Z"
    )


def _done(
    engine: Engine,
    item: Item,
    now: float,
    state: str,
    channel: str | None = None,
    subject: str = "",
    detail: str = "",
    outbox: bool = False,
) -> Delivery:
    delivery = Delivery(item, now, state, channel or item.channel, subject, detail, outbox)
    late = now - item.due
    where = f" via {delivery.channel}" + (" (outbox)" if outbox else "") if channel else ""
    log.info(
        "%s %s %s/%s%s%s late=%.1fs key=%s%s",
        state,
        item.kind,
        item.plan_id,
        item.ref,
        f" to {item.recipient}" if item.recipient else "",
        where,
        late,
        item.key,
        # A server's or a service's answer may quote the address or number it refused:
        # the ledger keeps the detail whole, the log line names the person by id only.
        f" ({mask(detail)})" if detail else "",
    )
    engine.emit(delivery)
    return delivery


# -- failures ---------------------------------------------------------------------------------


def _failed(
    engine: Engine,
    claim: Claim,
    item: Item,
    plan: Plan,
    person: Person,
    channel: str,
    error: ConnectorError,
    now: float,
    slot: float | None = None,
) -> Delivery:
    """``slot``: the moment a throttled message was booked after the hold, instead of the
    backoff (an attempt all the same, so a service that always says 429 ends in failed)."""
    detail = str(error)
    if error.kind == "transient":
        if item.attempts + 1 >= MAX_ATTEMPTS:
            return _give_up(
                engine,
                claim,
                item,
                now,
                f"gave up after {MAX_ATTEMPTS} attempts: {detail}",
                channel,
            )
        due = slot or now + backoff(item.attempts, error.retry_after)
        engine.store.retry(claim, due, detail, channel)
        return _done(
            engine,
            item,
            now,
            "retry",
            channel,
            detail=f"{detail}; again at {utc(due):%Y-%m-%d %H:%M:%S}Z",
        )
    if error.kind == "permanent":
        # The notice first: a worker dying after it leaves the item sending, so the
        # reaper reports it again at worst; dying after disabling would not.
        _notify_lead(engine, plan, item, now, "channel_failed", detail, channel)
        disable(engine, plan, person, channel, detail, now)
        fallback = choose_channel(engine, plan, person, channel, item.kind, now)
        if fallback is not None:
            engine.store.retry(claim, now, f"{detail}; falling back to {fallback}", fallback)
            return _done(engine, item, now, "retry", channel, detail=f"{detail}; next: {fallback}")
        # No follow-up: the notice about this channel is already written, above.
        return _give_up(engine, claim, item, now, detail, channel, problem="")
    _finish_and_follow(engine, claim, item, now, "unknown", detail, channel, "unknown")
    return _done(engine, item, now, "unknown", channel, detail=detail)


def _give_up(
    engine: Engine,
    claim: Claim,
    item: Item,
    now: float,
    detail: str,
    channel: str | None,
    problem: str = "failed",
) -> Delivery:
    """``failed``; ``problem`` is the notice the lead gets about it ("" for none)."""
    _finish_and_follow(engine, claim, item, now, "failed", detail, channel, problem)
    return _done(engine, item, now, "failed", channel, detail=detail)


def _finish_and_follow(
    engine: Engine,
    claim: Claim,
    item: Item,
    now: float,
    state: str,
    detail: str,
    channel: str | None,
    problem: str,
) -> None:
    """Record the outcome with its follow-up in one step, then act on it at once."""
    recorded = engine.store.finish(
        claim, state, now, detail=detail, channel=channel, follow_up=problem
    )
    if recorded and problem:
        follow_up(engine, item.key, f"{problem}:{item.attempts}", now)


def _after_unknown(engine: Engine, item: Item, now: float) -> None:
    if item.state != "unknown":
        return  # re-sent already
    channel = item.channel_used or item.channel
    try:
        plan = engine.plan(item.plan_id)
    except PlanGone:
        return
    connector, _ = engine.connector(plan, channel) if channel else (None, None)
    resend = item.attempts + 1 < MAX_ATTEMPTS and item.kind != "notice"
    if connector is not None and connector.deduplicates and resend:
        engine.store.requeue(
            item.key,
            "unknown",
            now + RESEND_DELAY,
            "re-sent: the channel de-duplicates, so it arrives once",
        )
        return
    _notify_lead(engine, plan, item, now, "unknown", item.detail, channel)


def _notify_lead(
    engine: Engine,
    plan: Plan,
    about: Item,
    now: float,
    problem: str,
    detail: str,
    channel: str | None,
) -> None:
    """Tell the team lead once that a message may not have reached someone."""
    if about.kind in ("notice", "inbound_notice"):
        return  # a failed notice does not cause another notice
    lead = plan.lead
    if lead.erased:
        return  # the lead was erased: nobody to tell until the plan names a new one
    # A channel that broke is reported once per person and channel, not once per message.
    topic = f"{about.recipient}/{channel}" if problem == "channel_failed" else about.key
    key = hashlib.sha256(f"{plan.id}|notice|{topic}|{problem}".encode()).hexdigest()[:24]
    notice = Item(
        key=key,
        plan_id=plan.id,
        kind="notice",
        due=now,
        ref=about.ref,
        recipient=lead.id,
        channel=lead.channels[0],
        origin="engine",
        data={
            "about": about.key,
            "about_kind": about.kind,
            "person": about.recipient,
            "channel": channel,
            "problem": problem,
            "detail": detail,
        },
    )
    engine.store.schedule([notice])
