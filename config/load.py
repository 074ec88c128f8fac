"""Reading a plan file: YAML 1.2 rules, line and column for every error.

``load_plan(path)`` returns a valid ``Plan`` or raises ``PlanError`` holding
every problem at once, each printable as ``PATH:LINE:COL: field.path: message``.
Nothing here lets a Python traceback reach the user.
"""

from __future__ import annotations

import json
import os
import re
import stat
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
from ruamel.yaml.reader import ReaderError

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
        self.problems = sorted({_one_line(problem) for problem in problems})
        super().__init__(self.report())

    def report(self) -> str:
        return "\n".join(problem.format(self.source) for problem in self.problems)


def _one_line(problem: Problem) -> Problem:
    """A problem that prints as exactly one line, whatever the plan's values hold."""
    return Problem(
        problem.line, problem.column, printable(problem.field), printable(problem.message)
    )


def printable(text: str) -> str:
    """Control characters and line breaks written as escapes (``\\n``, ``\\x07``).

    Messages quote what the plan holds, and a quoted value may hold a newline or
    a U+2028: printed as is, one problem would read as two lines.
    """
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )


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
    # A key written twice is reported with the plan's other problems; the last one counts.
    duplicates: list[Problem]


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
    if kind in ("int", "float"):
        # ruamel's resolver also calls 0b101 or a 5,000-digit run of figures a number;
        # where Python cannot read it as one, it stays the text that was written.
        try:
            return _int(text) if kind == "int" else _float(text)
        except ValueError:
            return text
    raise _Unsupported(node, _unsupported_tag(tag))


def _unsupported_tag(tag: str) -> str:
    """``tag:yaml.org,2002:python/object`` is written ``!!python/object`` in the file."""
    written = tag.replace("tag:yaml.org,2002:", "!!", 1)
    return f"the tag '{written}' is not supported in a plan: a plan holds plain values"


def _int(text: str) -> int:
    digits = text.replace("_", "")
    base = 8 if digits.lstrip("+-").startswith("0o") else 16 if "0x" in digits else 10
    return int(digits.replace("0o", "").replace("0x", ""), base)


def _float(text: str) -> float:
    return float(
        text.replace("_", "")
        .replace(".inf", "inf")
        .replace(".nan", "nan")
        .replace(".Inf", "inf")
        .replace(".INF", "inf")
        .replace(".NaN", "nan")
    )


class _Unsupported(Exception):
    def __init__(self, node: Node, message: str) -> None:
        super().__init__(message)
        self.node = node


def _expect_tag(node: Node, kind: str) -> None:
    """Refuse a tagged list or mapping (``!!python/object``, ``!!set``, ``!!omap``)."""
    if str(node.tag) != f"tag:yaml.org,2002:{kind}":
        raise _Unsupported(node, _unsupported_tag(str(node.tag)))


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
            _expect_tag(node, "map")
            return self._mapping(node, loc)
        if isinstance(node, SequenceNode):
            _expect_tag(node, "seq")
            return [self.build(item, (*loc, index)) for index, item in enumerate(node.value)]
        if isinstance(node, ScalarNode):
            return _scalar(node)
        raise _Unsupported(node, "this kind of YAML value is not supported in a plan")

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise _Unsupported(key_node, "a key must be plain text")
            _scalar(key_node)  # refuses a tag no plan uses
            # The key as written: '~:' or '1:' name a key, not None or a number.
            key = str(key_node.value)
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
            if _is_blank(value_node):
                # An empty value is "found" where the next token starts, often the
                # next line; the coordinator looks for the key they left empty.
                self.marks[(*loc, key)] = _mark(key_node)
        return result


def _is_blank(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.value == "" and node.style is None


def read_yaml(text: str, source: str) -> Document:
    """Parse YAML text into plain values plus the line and column of each."""
    builder = _Builder()
    try:
        yaml = YAML(typ="safe", pure=True)
        node = yaml.compose(text)
        _check_version(yaml, text, source)
        if node is None:
            raise PlanError(
                source,
                [Problem(1, 1, "plan", "the file is empty: a plan starts with 'version: 1'")],
            )
        data = builder.build(node)
    except MarkedYAMLError as error:
        raise PlanError(source, [_yaml_problem(error)]) from None
    except ReaderError as error:
        raise PlanError(source, [_reader_problem(error, text)]) from None
    except YAMLError as error:
        raise PlanError(source, [Problem(1, 1, "yaml", str(error).strip())]) from None
    except _Unsupported as error:
        line, column = _mark(error.node)
        raise PlanError(source, [Problem(line, column, "yaml", str(error))]) from None
    except _TooBig as error:
        raise PlanError(source, [Problem(1, 1, "plan", str(error))]) from None
    except RecursionError:
        raise PlanError(source, [Problem(1, 1, "plan", "the plan nests too deeply")]) from None
    return Document(data, builder.marks, builder.key_marks, builder.duplicates)


def _check_version(yaml: YAML, text: str, source: str) -> None:
    """Refuse a ``%YAML 1.1`` directive: it would switch the resolver to 1.1 rules."""
    version = getattr(yaml, "version", None)
    if version is None or tuple(version) == (1, 2):
        return
    match = re.search(r"^%YAML\b.*$", text, re.MULTILINE)
    line = text.count("\n", 0, match.start()) + 1 if match else 1
    written = match.group(0).strip() if match else "%YAML"
    message = f"plans are read by YAML 1.2 rules; remove the line '{written}'"
    raise PlanError(source, [Problem(line, 1, "yaml", message)])


def _reader_problem(error: ReaderError, text: str) -> Problem:
    """A character YAML does not allow (a NUL, a control code), at its line and column."""
    position = error.position if isinstance(error.position, int) else 0
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    character = error.character
    code = ord(character) if isinstance(character, str | bytes) else int(character or 0)
    message = f"the character U+{code:04X} is not allowed in a plan (a control character)"
    return Problem(line, column, "yaml", message)


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
        raw = _read_plan_file(path)
    except _NotAPlanFile as error:
        raise PlanError(source, [Problem(1, 1, "file", str(error))]) from None
    except OSError as error:
        raise PlanError(source, [Problem(1, 1, "file", f"cannot read: {error.strerror}")]) from None
    return load_text(_decode(raw, source), source, base=path.parent, path=path)


class _NotAPlanFile(Exception):
    pass


def _read_plan_file(path: Path) -> bytes:
    """The bytes of a regular file of at most ``MAX_BYTES``.

    A device such as /dev/zero reports size 0 and never ends, and opening a FIFO
    waits for a writer: only regular files are read, and never more than the cap,
    whatever the size said (the file may grow while it is read).
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        _check_plan_file(os.fstat(descriptor))
    except _NotAPlanFile:
        os.close(descriptor)
        raise
    with os.fdopen(descriptor, "rb") as file:
        raw = file.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise _NotAPlanFile(_too_big(f"the file holds more than {MAX_BYTES:,} bytes"))
    return raw


def _check_plan_file(status: os.stat_result) -> None:
    if stat.S_ISDIR(status.st_mode):
        raise _NotAPlanFile("this is a folder, not a plan file")
    if not stat.S_ISREG(status.st_mode):
        raise _NotAPlanFile("this is not a regular file (a device, a pipe or a socket)")
    if status.st_size > MAX_BYTES:
        raise _NotAPlanFile(_too_big(f"the file is {status.st_size / 1e6:.1f} MB"))


def _too_big(what: str) -> str:
    return f"{what}; a plan is at most {MAX_BYTES // 1024} KiB"


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise PlanError(source, [Problem(line, 1, "file", "the file is not UTF-8 text")]) from None


def load_text(
    text: str, source: str = "<plan>", base: Path | None = None, path: Path | None = None
) -> Plan:
    """Check plan text.

    ``base`` is the plan file's folder: the handover documents must be files there.
    Without it only their names are checked, as for a registered plan read again
    (whether a document is there matters when the bundle is made).
    """
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
        *document.duplicates,
        *(locate(document, loc, message) for loc, message in rules.check(document.data, base)),
    ]
    try:
        plan = Plan.model_validate(document.data)
    except ValidationError as error:
        problems.extend(_pydantic_problems(document, error))
        raise PlanError(source, problems) from None
    if problems:
        raise PlanError(source, problems)
    whole = [locate(document, loc, message) for loc, message in rules.check_plan(plan)]
    if whole:
        raise PlanError(source, whole)
    plan.attach_source(path, text)
    return plan


def dotted(loc: Loc) -> str:
    """``('people', 0, 'email')`` -> ``people[0].email``; an odd key -> ``["a key"]``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not _PLAIN_KEY.fullmatch(part):
            # A key with spaces, dots or a colon would make the path ambiguous.
            text += f"[{json.dumps(part, ensure_ascii=False)}]"
        else:
            text += f".{part}" if text else part
    return text or "plan"


_PLAIN_KEY = re.compile(r"[\w-]+")


def locate(
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
            problems.append(locate(document, loc, _unknown_key(loc), key=True))
            continue
        if kind == "missing":
            message = "required, but missing"
            problems.append(locate(document, loc[:-1], message, field=loc))
            continue
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if kind == "too_short":
            message = "needs at least one item"
        elif kind == "string_too_short":
            message = "must not be empty"
        elif kind in _EXPECTED:
            message = f"expected {_EXPECTED[kind]}, not {_found(item.get('input'))}"
            if kind == "string_type" and isinstance(item.get("input"), int | float | bool):
                message += "; put it in quotes if it is meant as text"
        elif kind == "literal_error":
            message = _not_allowed(item, message, loc)
        problems.append(locate(document, loc, message))
    return problems


# Pydantic's own words name Python types ("a valid dictionary or instance of
# Challenge"); a coordinator reads what was expected and what was written.
_EXPECTED = {
    "model_type": "a mapping (indented 'key: value' lines)",
    "dict_type": "a mapping (indented 'key: value' lines)",
    "model_attributes_type": "a mapping (indented 'key: value' lines)",
    "list_type": "a list ('- item' lines or [a, b])",
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}


def _found(value: object) -> str:
    """What the plan holds, in words: ``a list``, ``the number 42``, ``the text 'x'``."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text '{value[:40]}{'...' if len(value) > 40 else ''}'"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _not_allowed(item: Any, message: str, loc: Loc) -> str:
    value = item.get("input")
    written = f"'{value}'" if isinstance(value, str) else _found(value)
    message = f"{written} is not allowed: {message[0].lower()}{message[1:]}"
    if loc == ("version",):
        return f"{message}; this pactkeeper reads plan format version 1"
    if isinstance(value, str):
        expected = re.findall(r"'([^']*)'", str(item.get("ctx", {}).get("expected", "")))
        close = get_close_matches(value, expected, n=1)
        if close:
            message += f"; did you mean '{close[0]}'?"
    return message


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
