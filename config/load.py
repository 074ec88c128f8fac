"""Reading a plan file: YAML 1.2 rules, line and column for every error.

``load_plan(path)`` returns a valid ``Plan`` or raises ``PlanError`` holding
every problem at once, each printable as ``PATH:LINE:COL: field.path: message``.
Nothing here lets a Python traceback reach the user.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from config import rules
from config.plan import Plan

MAX_BYTES = 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64

Loc = tuple[str | int, ...]
Mark = tuple[int, int]


@dataclass(frozen=True, order=True)
class Problem:
    line: int
    column: int
    field: str
    message: str

    def format(self, source: str) -> str:
        return f"{source}:{self.line}:{self.column}: {self.field}: {self.message}"


class PlanError(Exception):
    """A plan that cannot be used, with every problem found."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = sorted(set(problems))
        super().__init__(self.report())

    def report(self) -> str:
        return "\n".join(problem.format(self.source) for problem in self.problems)


# -- YAML 1.2 -----------------------------------------------------------------
#
# ruamel.yaml composes the node tree because it follows YAML 1.2: PyYAML's 1.1
# scanner cannot read a flow list item that ends in '?' (`[Ready?, Who?]`, as in
# the reading-club example), and turns `on:` into True and `10:00` into 600.
# Scalars are built here, not by a constructor, so no tag can create objects and
# dates stay text for the plan models to parse.


class _TooBig(Exception):
    pass


@dataclass
class Document:
    data: Any
    marks: dict[Loc, Mark]
    key_marks: dict[Loc, Mark]


def _mark(node: Node) -> Mark:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _scalar(node: ScalarNode) -> Any:
    tag, text = str(node.tag), str(node.value)
    kind = tag.rsplit(":", 1)[-1] if tag.startswith("tag:yaml.org,2002:") else tag
    if kind in ("str", "timestamp"):
        return text
    if kind == "null":
        return None
    if kind == "bool":
        return text.lower() == "true"
    if kind == "int":
        digits = text.replace("_", "")
        base = 8 if digits.lstrip("+-").startswith("0o") else 16 if "0x" in digits else 10
        return int(digits.replace("0o", "").replace("0x", ""), base)
    if kind == "float":
        return float(
            text.replace("_", "")
            .replace(".inf", "inf")
            .replace(".nan", "nan")
            .replace(".Inf", "inf")
            .replace(".INF", "inf")
            .replace(".NaN", "nan")
        )
    raise _Unsupported(node, f"the tag '{tag}' is not supported in a plan")


class _Unsupported(Exception):
    def __init__(self, node: Node, message: str) -> None:
        super().__init__(message)
        self.node = node


class _Builder:
    """Builds Python values from the composed nodes, remembering where each came from."""

    def __init__(self) -> None:
        self.count = 0
        self.marks: dict[Loc, Mark] = {}
        self.key_marks: dict[Loc, Mark] = {}
        self.duplicates: list[Problem] = []

    def build(self, node: Node, loc: Loc = ()) -> Any:
        # Aliases let a tiny file expand without end (a "YAML bomb"): count every node built.
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig(
                f"the plan expands to more than {MAX_NODES:,} values "
                "(are anchors and aliases nested?)"
            )
        if len(loc) > MAX_DEPTH:
            raise _TooBig(f"the plan nests deeper than {MAX_DEPTH} levels")
        self.marks[loc] = _mark(node)
        if isinstance(node, MappingNode):
            return self._mapping(node, loc)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*loc, index)) for index, item in enumerate(node.value)]
        if isinstance(node, ScalarNode):
            return _scalar(node)
        raise _Unsupported(node, "this kind of YAML value is not supported in a plan")

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise _Unsupported(key_node, "a key must be plain text")
            key = str(_scalar(key_node))
            if key in result:
                line, column = _mark(key_node)
                self.duplicates.append(
                    Problem(
                        line,
                        column,
                        dotted((*loc, key)),
                        f"'{key}' appears twice in the same mapping",
                    )
                )
            self.key_marks[(*loc, key)] = _mark(key_node)
            result[key] = self.build(value_node, (*loc, key))
        return result


def read_yaml(text: str, source: str) -> Document:
    """Parse YAML text into plain values plus the line and column of each."""
    builder = _Builder()
    try:
        node = YAML(typ="safe", pure=True).compose(text)
        if node is None:
            raise PlanError(
                source,
                [Problem(1, 1, "plan", "the file is empty: a plan starts with 'version: 1'")],
            )
        data = builder.build(node)
    except MarkedYAMLError as error:
        raise PlanError(source, [_yaml_problem(error)]) from None
    except YAMLError as error:
        raise PlanError(source, [Problem(1, 1, "yaml", str(error).strip())]) from None
    except _Unsupported as error:
        line, column = _mark(error.node)
        raise PlanError(source, [Problem(line, column, "yaml", str(error))]) from None
    except _TooBig as error:
        raise PlanError(source, [Problem(1, 1, "plan", str(error))]) from None
    except RecursionError:
        raise PlanError(source, [Problem(1, 1, "plan", "the plan nests too deeply")]) from None
    if builder.duplicates:
        raise PlanError(source, builder.duplicates)
    return Document(data, builder.marks, builder.key_marks)


def _yaml_problem(error: MarkedYAMLError) -> Problem:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = (error.problem or str(error)).strip()
    if "'\\t'" in problem:
        problem = "a tab is not allowed here: YAML indents with spaces"
    elif error.context:
        problem = f"{problem} ({error.context.strip()})"
    return Problem(line, column, "yaml", problem)


# -- plan -----------------------------------------------------------------------


def load_plan(path: str | Path) -> Plan:
    """Read and check a plan file; raise ``PlanError`` with every problem found."""
    path = Path(path)
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise PlanError(
                source,
                [
                    Problem(
                        1,
                        1,
                        "file",
                        f"the file is {size / 1e6:.1f} MB; "
                        f"a plan is at most {MAX_BYTES // 1024} KiB",
                    )
                ],
            )
        raw = path.read_bytes()
    except IsADirectoryError:
        raise PlanError(
            source, [Problem(1, 1, "file", "this is a folder, not a plan file")]
        ) from None
    except OSError as error:
        raise PlanError(source, [Problem(1, 1, "file", f"cannot read: {error.strerror}")]) from None
    return load_text(_decode(raw, source), source, base=path.parent, path=path)


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise PlanError(source, [Problem(line, 1, "file", "the file is not UTF-8 text")]) from None


def load_text(
    text: str, source: str = "<plan>", base: Path | None = None, path: Path | None = None
) -> Plan:
    """Check plan text; ``base`` is the folder that handover documents are relative to."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise PlanError(
            source, [Problem(1, 1, "file", f"the plan is larger than {MAX_BYTES // 1024} KiB")]
        )
    document = read_yaml(text, source)
    if not isinstance(document.data, dict):
        raise PlanError(
            source,
            [
                Problem(
                    1,
                    1,
                    "plan",
                    "a plan is a mapping of keys such as version, id, title, start and end",
                )
            ],
        )
    problems = [
        _locate(document, loc, message) for loc, message in rules.check(document.data, base)
    ]
    try:
        plan = Plan.model_validate(document.data)
    except ValidationError as error:
        problems.extend(_pydantic_problems(document, error))
        raise PlanError(source, problems) from None
    if problems:
        raise PlanError(source, problems)
    plan.attach_source(path, text)
    return plan


def dotted(loc: Loc) -> str:
    """``('people', 0, 'email')`` -> ``people[0].email``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "plan"


def _locate(
    document: Document, loc: Loc, message: str, key: bool = False, field: Loc | None = None
) -> Problem:
    """A problem at ``loc``, or at the nearest enclosing value that has a position."""
    marks = document.key_marks if key else document.marks
    name = dotted(field if field is not None else loc)
    for end in range(len(loc), -1, -1):
        mark = marks.get(loc[:end]) or document.marks.get(loc[:end])
        if mark:
            return Problem(mark[0], mark[1], name, message)
    return Problem(1, 1, name, message)


def _pydantic_problems(document: Document, error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        loc: Loc = tuple(part for part in item["loc"] if isinstance(part, str | int))
        kind, message = item["type"], str(item["msg"])
        if kind == "extra_forbidden":
            problems.append(_locate(document, loc, _unknown_key(loc), key=True))
            continue
        if kind == "missing":
            message = "required, but missing"
            problems.append(_locate(document, loc[:-1], message, field=loc))
            continue
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if kind == "too_short":
            message = "needs at least one item"
        if kind == "literal_error" and isinstance(item.get("input"), str):
            expected = re.findall(r"'([^']*)'", str(item.get("ctx", {}).get("expected", "")))
            close = get_close_matches(item["input"], expected, n=1)
            message = f"'{item['input']}' is not allowed: {message[0].lower()}{message[1:]}"
            if close:
                message += f"; did you mean '{close[0]}'?"
        problems.append(_locate(document, loc, message))
    return problems


def _unknown_key(loc: Loc) -> str:
    key = str(loc[-1])
    allowed = _allowed_keys(loc[:-1])
    close = get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    if not close and allowed:
        hint = f"; expected one of: {', '.join(allowed)}"
    return f"unknown key '{key}'{hint}"


def _allowed_keys(loc: Loc) -> list[str]:
    """The keys the plan format allows at ``loc``."""
    annotation: Any = Plan
    for part in loc:
        model = _model_in(annotation)
        if isinstance(part, int):
            annotation = _item_type(annotation)
        elif model is not None:
            field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
            if field is None:
                return []
            annotation = field.annotation
        else:
            return []
    model = _model_in(annotation)
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _item_type(annotation: Any) -> Any:
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) is list:
            return typing.get_args(arg)[0]
        if isinstance(arg, types.UnionType):
            continue
    return None
