"""Where a plan stands: risk, check-ins, milestones, deliveries (a read model).

The same report feeds ``pactkeeper status`` (printed by ``worker.run.cli``), ``status
--json`` and the web status page; the link is made in ``worker.links``. The page sits
behind a per-plan secret link (a signed token, purpose ``status``) that
``pactkeeper status PLAN --link`` prints and that warnings to the lead and the
partner contact carry; it stops working 180 days after the plan's end, or at
once for every plan when ``SECRET_KEY`` changes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from config.load import PlanError
from worker import clock
from worker.checkins.risk import MeetingAnswers
from worker.checkins.standing import standing
from worker.delivery.channels import consents_missing
from worker.engine import Engine, PlanGone
from worker.inbound.attendance import answer_words
from worker.plans import horizon, register
from worker.privacy.keeping import kept_until, purge_date, purged
from worker.store import Item, records
from worker.timeline import milestone_anchor

if TYPE_CHECKING:
    from config.plan import Plan
    from worker.checkins.standing import Standing

NEXT = 10
PROBLEMS = 20
WARNINGS = 20


def _when(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _row(item: Item) -> dict[str, Any]:
    return {
        "key": item.key,
        "kind": item.kind,
        "due": _when(item.due),
        "ref": item.ref,
        "recipient": item.recipient,
        "channel": item.channel_used or item.channel,
        "attempts": item.attempts,
        "detail": item.detail,
    }


def plan_status(engine: Engine, plan_id: str, now: float | None = None) -> dict[str, Any]:
    """Everything ``status --json`` shows for one plan at ``now`` (default: the clock)."""
    moment = clock.now() if now is None else now
    erased = purged(engine, plan_id)
    if erased is not None:
        # What was kept of a plan whose personal data is gone: counts, dates, milestones.
        return {**erased["report"], "purged": _when(float(erased["at"])), "data_until": None}
    report = deliveries(engine, plan_id)
    try:
        plan = engine.plan(plan_id)
    except (PlanGone, PlanError) as error:
        report["error"] = f"cannot read the plan: {str(error).splitlines()[0]}"
        return report
    until = purge_date(engine, plan)
    report["data_until"] = _when(until)
    last = kept_until(plan, until)
    report["data_kept_until"] = last.isoformat() if last else None  # the plan's own day
    # SMS and WhatsApp carry nothing to a person whose consent the plan does not record.
    report["no_consent"] = consents_missing(plan, moment)
    report.update(whole_timeline(engine, plan, report))
    report.update(progress(engine, plan, moment))
    return report


def whole_timeline(engine: Engine, plan: Plan, report: dict[str, Any]) -> dict[str, Any]:
    """Counts and the next deliveries as if the whole timeline were in the due index.

    The due index holds the coming weeks only (the rolling horizon): what lies beyond
    counts as due like the rest, and the engine's own top-up steps are left out, so
    the figures do not depend on the horizon."""
    steps = [i for i in engine.store.items(plan.id) if i.kind == horizon.KIND]
    later = register.later(engine, plan)
    if not steps and not later:
        return {}
    counts = dict(report["counts"])
    for step in steps:
        counts[step.state] -= 1
    counts["due"] = counts.get("due", 0) + len(later)
    waiting = sum(1 for step in steps if step.state == "due")
    upcoming = [
        item for item in engine.store.next_due(NEXT + waiting, plan.id) if item.kind != horizon.KIND
    ]
    upcoming = sorted(upcoming + later[:NEXT], key=lambda item: item.due)[:NEXT]
    return {
        "counts": {state: n for state, n in sorted(counts.items()) if n},
        "next": [_row(item) for item in upcoming],
    }


def deliveries(engine: Engine, plan_id: str) -> dict[str, Any]:
    store = engine.store
    record = store.plan(plan_id)
    problems = store.items(plan_id, ("failed", "unknown"))
    targets = store.records(records.channel_targets(plan_id))
    return {
        "plan": plan_id,
        "source": record.source if record else None,
        "updated": _when(record.updated) if record else None,
        "counts": dict(sorted(store.counts(plan_id).items())),
        "next": [_row(item) for item in store.next_due(NEXT, plan_id)],
        "failed": [_row(i) for i in problems if i.state == "failed"][-PROBLEMS:],
        "unknown": [_row(i) for i in problems if i.state == "unknown"][-PROBLEMS:],
        "disabled_channels": [
            {"person": t["person"], "channel": t["channel"], "reason": t["reason"]}
            for t in targets.values()
        ],
        # Channels a person switched off by replying STOP (START switches them on again).
        "opted_out": [
            {
                "person": t["person"],
                "channel": t["channel"],
                "at": _when(float(t["at"])),
                "source": str(t.get("source") or "").partition(":")[0],
            }
            for t in store.records(records.optouts(plan_id)).values()
            if t.get("off")
        ],
        "closed": store.get_record(records.CLOSED, plan_id) is not None,
    }


def progress(engine: Engine, plan: Plan, now: float) -> dict[str, Any]:
    """Risk with reasons, check-ins per person, milestones and recent warnings."""
    lang = plan.language
    found = standing(engine, plan, now)
    risk, answers = found.risk, found.meetings
    return {
        "risk": {
            **risk.as_json(lang),
            "people": {pid: risk.as_json(lang) for pid, risk in found.people.items()},
        },
        "checkins": {
            pid: [window.as_json() for window in windows] for pid, windows in found.windows.items()
        },
        "milestones": milestones(plan, found),
        "meetings": meetings(plan, answers),
        "warnings": [warning_row(item) for item in recent_warnings(engine, plan.id)],
    }


def meetings(plan: Plan, answers: list[MeetingAnswers]) -> list[dict[str, Any]]:
    """Per meeting with invitations out, each invitee's answer in the calendar."""
    return [
        {
            "uid": meeting.uid,
            "milestone": meeting.ref,
            "title": meeting.title,
            "start": _when(meeting.start),
            "attendees": [
                {
                    "person": person_id,
                    "name": _name(plan, person_id),
                    "answer": answer,
                    "text": answer_words(answer, plan.language),
                    **(
                        {"comment": meeting.comments[person_id]}
                        if person_id in meeting.comments
                        else {}
                    ),
                }
                for person_id, answer in meeting.answers.items()
            ],
        }
        for meeting in answers
    ]


def _name(plan: Plan, person_id: str) -> str:
    try:
        return plan.person(person_id).name
    except KeyError:
        return person_id


def milestones(plan: Plan, found: Standing) -> list[dict[str, Any]]:
    overdue = {late.milestone.id: late.days for late in found.overdue}
    rows = []
    for milestone in sorted(plan.milestones, key=lambda m: milestone_anchor(plan, m)):
        done = found.done.get(milestone.id)
        rows.append(
            {
                "id": milestone.id,
                "title": milestone.title,
                "kind": "meeting" if milestone.is_meeting else "deadline",
                "when": milestone.at.isoformat(sep=" ") if milestone.at else str(milestone.due),
                "owner": milestone.owner,
                "done": _when(float(done["at"])) if done else None,
                "overdue_days": overdue.get(milestone.id),
            }
        )
    return rows


def recent_warnings(engine: Engine, plan_id: str, limit: int = WARNINGS) -> list[Item]:
    found = [i for i in engine.store.items(plan_id) if i.kind in ("warning", "overdue")]
    return sorted(found, key=lambda item: (item.due, item.key), reverse=True)[:limit]


def warning_row(item: Item) -> dict[str, Any]:
    return {
        **_row(item),
        "state": item.state,
        "about": item.data.get("about"),
        "level": item.data.get("level"),
        "dropout": item.data.get("dropout"),
        "template": item.data.get("template") or item.kind,
        "sent_at": _when(item.sent_at),
    }
