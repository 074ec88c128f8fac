"""worker/kinds.py is the whole truth about the ledger's item kinds.

A kind without a handler cannot ship: every kind in the table has a step or a draft (not
both), a batch step only beside a step, and every kind the code schedules is in the table,
scheduled by the module the table names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from worker import kinds, timeline
from worker.calendar import revisions
from worker.handover import report as handover_report
from worker.store import Item

ROOT = Path(__file__).resolve().parents[2]
# Modules whose Item(...) takes its kind from a variable, and the kinds that variable holds.
KIND_VARIABLES = {
    "worker.plans.register": set(timeline.ACTIONS),  # kind=o.kind over the ACTIONS
    "worker.calendar.revisions": {revisions.INVITE, revisions.CANCEL},  # _item(kind, ...)
}


def module_constants(tree: ast.Module) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            if isinstance(target, ast.Name) and isinstance(node.value, ast.Constant):
                found[target.id] = str(node.value.value)
            elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                for name, value in zip(target.elts, node.value.elts, strict=True):
                    if isinstance(name, ast.Name) and isinstance(value, ast.Constant):
                        found[name.id] = str(value.value)
    return found


def created_kinds() -> dict[str, set[str]]:
    """kind -> the modules that build an Item of that kind, read from the source."""
    created: dict[str, set[str]] = {}
    for path in sorted((ROOT / "worker").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = module_constants(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Item"):
                continue
            for keyword in (k for k in node.keywords if k.arg == "kind"):
                value = keyword.value
                if isinstance(value, ast.Constant):
                    names = {str(value.value)}
                elif isinstance(value, ast.Name) and value.id in constants:
                    names = {constants[value.id]}
                else:
                    assert module in KIND_VARIABLES, f"{module}: Item(kind=...) not readable"
                    names = KIND_VARIABLES[module]
                for name in names:
                    created.setdefault(name, set()).add(module)
    return created


def test_the_table_names_fifteen_kinds_once_each() -> None:
    names = [kind.name for kind in kinds.TABLE]
    assert len(names) == len(set(names)) == 15


@pytest.mark.parametrize("kind", kinds.TABLE, ids=lambda kind: kind.name)
def test_every_kind_has_what_it_needs(kind: kinds.Kind) -> None:
    assert (kind.step is None) != (kind.draft is None), "a step or a message, not both"
    assert kind.batch is None or kind.step is not None, "a batch step beside a single one"
    assert not kind.delivery or kind.draft is not None, "a delivery is a message"
    assert callable(kind.step or kind.draft)


def test_every_kind_the_code_creates_is_in_the_table() -> None:
    created = created_kinds()
    assert set(created) <= set(kinds.KINDS), sorted(set(created) - set(kinds.KINDS))
    for name, modules in created.items():
        expected = kinds.KINDS[name].created_by
        if expected == "worker.timeline":
            assert name in timeline.ACTIONS and modules == {"worker.plans.register"}
        else:
            assert modules == {expected}, f"{name} is created in {modules}, not {expected}"


def test_every_kind_in_the_table_is_created_somewhere() -> None:
    created = created_kinds()
    assert set(kinds.KINDS) == set(created)


def test_the_handover_report_lists_exactly_the_deliveries() -> None:
    for kind in kinds.TABLE:
        # A message is scheduled on a channel; a step on none.
        channel = "email" if kind.draft is not None else None
        item = Item(key="k", plan_id="p", kind=kind.name, due=0.0, ref="r", channel=channel)
        assert handover_report.is_delivery(item) == kind.delivery, kind.name


def test_lookups_refuse_what_the_table_does_not_have() -> None:
    assert kinds.step_for("reminder") is None
    assert kinds.step_for("no such kind") is None
    with pytest.raises(LookupError, match="no message for items of kind 'close'"):
        kinds.drafter_for("close")
    with pytest.raises(LookupError):
        kinds.batch_for("close")
    assert kinds.batch_for("checkin_close") is kinds.KINDS["checkin_close"].batch
