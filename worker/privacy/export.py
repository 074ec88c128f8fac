"""``pactkeeper export``: everything held about one person of a plan, as JSON.

The rows are exactly those ``worker.privacy.holdings`` finds (what ``forget`` erases):
the person's entry in the plan, their consent and opt-outs with their times, every
delivery and record row that names them, and the messages written for them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config.plan import Person, Plan
from worker.engine import Engine
from worker.handover.close import bundle_path
from worker.privacy.holdings import holdings
from worker.store import Item, records


def export(engine: Engine, plan: Plan, person: Person, now: float) -> dict[str, Any]:
    """Everything held about ``person`` as one JSON document, with their messages."""
    found = holdings(engine, plan, person)
    bundle = bundle_path(engine.settings, plan.id)  # the kept copy names everyone
    optouts = found.rows.get(records.optouts(plan.id), {})
    return {
        "exported_at": _iso(now),
        "plan": plan.id,
        "plan_title": plan.title,
        "person": person.model_dump(mode="json", by_alias=True, exclude_none=True, warnings=False),
        "consent": {
            "sms_whatsapp": person.consent.isoformat() if person.consent else None,
            "opt_outs": [
                {
                    "channel": row.get("channel"),
                    "off": row.get("off"),
                    "at": _iso(float(row["at"])) if row.get("at") is not None else None,
                    "source": str(row.get("source") or "").partition(":")[0],
                }
                for row in optouts.values()
            ],
        },
        "plan_text_names_them": found.plan_text,
        "deliveries": [_item(item) for item in found.items],
        "records": found.rows,
        "messages": [_message(path) for path in found.messages],
        "handover_bundle_copy": bundle.name if bundle.is_file() else None,
        "rows": found.count,
    }


def _item(item: Item) -> dict[str, Any]:
    row = item.to_row()
    row["data"] = item.data
    for name in ("due", "sent_at", "lease"):
        if isinstance(row.get(name), float):
            row[name] = _iso(row[name])
    row.pop("token", None)  # a claim's secret, of no meaning to anyone
    return row


def _message(path: Path) -> dict[str, Any]:
    try:
        content = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        content = f"(cannot be read: {error.strerror})"
    name = path.name if path.parent.name != ".sent" else f".sent/{path.name}"
    return {"file": name, "content": content}


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
