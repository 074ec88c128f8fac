"""Advice on a valid plan: what it allows but probably does not mean (docs/plan-checks.md).

An error stops a plan; advice does not. ``pactkeeper validate`` prints each piece as
``PATH:LINE:COL: advice: field.path: message`` and still exits 0, unless ``--strict``
turns advice into errors. Each rule is a row of ``RULES``: a name, the reason it
exists (docs/plan-checks.md quotes it) and a check that reads the valid plan and
yields ``(loc, message)``, located in the plan file by the loader's own machinery.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from config.load import Document, PlanError, Problem, dotted, locate, printable, read_yaml
from config.plan import Plan
from config.rules import Issue, without_consent


@dataclass(frozen=True)
class Rule:
    name: str
    reason: str
    check: Callable[[Plan], Iterator[Issue]]


@dataclass(frozen=True, order=True)
class Advice:
    problem: Problem
    rule: str

    def format(self, source: str) -> str:
        """``PATH:LINE:COL: advice: field.path: message``."""
        problem = self.problem
        return (
            f"{source}:{problem.line}:{problem.column}: advice: {problem.field}: {problem.message}"
        )

    def as_error(self, source: str) -> str:
        """``PATH:LINE:COL: field.path: message``, as ``--strict`` reports it."""
        return self.problem.format(source)


def _consent(plan: Plan) -> Iterator[Issue]:
    for index, person in enumerate(plan.people):
        channels = without_consent(person)
        if channels:
            yield (
                ("people", index, "consent"),
                f"{person.name} is reached by {' and '.join(channels)} without a recorded "
                "consent: add 'consent: YYYY-MM-DD' (the day they agreed to be reached "
                f"that way), or nothing goes to them on {' or '.join(channels)}",
            )


RULES: tuple[Rule, ...] = (
    Rule(
        "consent",
        "SMS and WhatsApp reach a private phone: under the AVG (GDPR) a person must have "
        "agreed to it, and the plan records the day they did. Without it pactkeeper sends "
        "nothing on those channels and uses the person's next channel.",
        _consent,
    ),
)


def advise(plan: Plan, source: str = "<plan>") -> list[Advice]:
    """Every piece of advice on ``plan``, in file order."""
    document = _document(plan, source)
    found = []
    for rule in RULES:
        for loc, message in rule.check(plan):
            problem = _problem(document, loc, message)
            found.append(Advice(problem, rule.name))
    return sorted(found)


def _document(plan: Plan, source: str) -> Document | None:
    """The plan's text read again for positions; None for a plan built without one."""
    if not plan.text:
        return None
    try:
        return read_yaml(plan.text, source)
    except PlanError:
        return None


def _problem(document: Document | None, loc: tuple[str | int, ...], message: str) -> Problem:
    if document is None:
        return Problem(1, 1, dotted(loc), printable(message))
    found = locate(document, loc, message)
    return Problem(found.line, found.column, printable(found.field), printable(found.message))
