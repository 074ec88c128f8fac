"""``pactkeeper status``: where every delivery of a plan stands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from worker.engine import Engine
from worker.store import Item

NEXT = 10
PROBLEMS = 20


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


def plan_status(engine: Engine, plan_id: str) -> dict[str, Any]:
    store = engine.store
    record = store.plan(plan_id)
    problems = store.items(plan_id, ("failed", "unknown"))
    targets = store.records(f"targets:{plan_id}")
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
        "closed": store.get_record("closed", plan_id) is not None,
    }


def print_status(reports: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=140)
    if not reports:
        console.print("No plans registered yet: run 'pactkeeper sync PLAN'.")
    for report in reports:
        counts = ", ".join(f"{n} {state}" for state, n in report["counts"].items()) or "nothing"
        console.print(
            f"[bold]{report['plan']}[/bold]  {counts}" + ("  (closed)" if report["closed"] else "")
        )
        for title, rows in (
            ("next", report["next"]),
            ("failed", report["failed"]),
            ("unknown outcome", report["unknown"]),
        ):
            if rows:
                table = Table(
                    "due (UTC)",
                    "kind",
                    "ref",
                    "recipient",
                    "channel",
                    "detail",
                    title=title,
                    title_justify="left",
                    box=None,
                )
                for row in rows:
                    table.add_row(
                        row["due"],
                        row["kind"],
                        row["ref"],
                        row["recipient"] or "",
                        row["channel"] or "",
                        row["detail"],
                    )
                console.print(table)
        for target in report["disabled_channels"]:
            console.print(
                f"  channel off: {target['person']} on {target['channel']} ({target['reason']})"
            )
