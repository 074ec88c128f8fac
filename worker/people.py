"""Who a person of the plan turns to: pure rules over the plan's people."""

from __future__ import annotations

from config.plan import Person, Plan


def ask_whom(plan: Plan, person: Person) -> Person:
    """Whom a person tells when they cannot keep a commitment."""
    if person.side == "partner" or person.id == plan.team.lead:
        return plan.lead if person.side == "partner" else plan.contact
    return plan.lead
