"""Bounds on the values a request brings: how deep they nest, which characters they hold.

Every JSON value of a request body (`check_variables` on the fast path, `check_body` on
Strawberry's) and every literal in the document (`SafeLiterals`, a validation rule) nests
at most `MAX_INPUT_DEPTH` objects or lists, and no string in them, object keys included,
holds a NUL or an unpaired surrogate.

- Depth: anything recursive that walks a value overflows the interpreter's stack on deep
  input (about 330 levels, under 1 KB of JSON, were enough), answering 500 with a huge
  traceback. Gatehouse's own inputs nest two levels.
- Characters: no Gatehouse field takes either; PostgreSQL refuses a NUL in text, and a
  lone surrogate cannot be encoded as UTF-8 (not for the database, not for the answer).

Both are refused before anything executes with `BAD_USER_INPUT`, naming the field. The
walks stop at the first problem and refuse a container before looking inside it, so they
never descend more than `MAX_INPUT_DEPTH` levels whatever the input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from graphql import (
    ArgumentNode,
    GraphQLError,
    Node,
    ObjectFieldNode,
    StringValueNode,
    ValidationContext,
    ValidationRule,
)

from core.errors import BadUserInput, ErrorCode

# Objects or lists one input value may nest; Gatehouse's own inputs nest two.
MAX_INPUT_DEPTH = 32
TOO_DEEP = f"The value nests more than {MAX_INPUT_DEPTH} objects or lists."
UNSAFE_TEXT = "Text may not hold NUL characters or unpaired surrogates."
_UNSAFE_CHARACTER = re.compile("[\x00\ud800-\udfff]")


class NestedTooDeep(BadUserInput):
    """A request value nests deeper than `MAX_INPUT_DEPTH`: the request itself is malformed
    (400), where unsafe text in a value is a wrong value like any other (section 5: 200)."""


def unsafe_text(text: str) -> bool:
    """True when `text` holds a NUL or an unpaired surrogate (no field takes either)."""
    if text.isascii():  # a flag read in CPython; then one memchr
        return "\x00" in text
    return _UNSAFE_CHARACTER.search(text) is not None


class Scan(NamedTuple):
    """What `scan_json` found: a problem (its message) and the innermost object key on the
    way to it, or no problem and whether a float was seen."""

    problem: str | None
    key: str | None
    holds_float: bool


class _Found(Exception):
    def __init__(self, problem: str, key: str | None) -> None:
        self.problem = problem
        self.key = key


def _walk(value: Any, depth: int, max_depth: int, key: str | None) -> bool:
    """True when a float was seen; `_Found` at the first problem. A container is refused
    before its children are looked at, so this never descends more than `max_depth`
    levels, whatever the input."""
    if isinstance(value, str):
        if unsafe_text(value):
            raise _Found(UNSAFE_TEXT, key)
        return False
    if isinstance(value, float):
        return True
    if not isinstance(value, (dict, list)):
        return False
    if depth >= max_depth:
        raise _Found(TOO_DEEP, key)
    if isinstance(value, dict):
        if any(unsafe_text(name) for name in value):
            raise _Found(UNSAFE_TEXT, key)  # the key itself is never echoed
        children: Any = value.items()
    else:
        children = ((key, child) for child in value)
    holds_float = False
    for name, child in children:
        if isinstance(child, str):
            if unsafe_text(child):
                raise _Found(UNSAFE_TEXT, name)
        elif isinstance(child, (dict, list)):
            holds_float = _walk(child, depth + 1, max_depth, name) or holds_float
        elif isinstance(child, float):
            holds_float = True
    return holds_float


def scan_json(value: Any, max_depth: int = MAX_INPUT_DEPTH) -> Scan:
    """Walk a parsed JSON value, stopping at the first problem.

    A problem is an object or list nested more than `max_depth` deep (a scalar alone is
    depth 0), or a string or object key holding a NUL or an unpaired surrogate. The key
    reported is always safe to echo: an unsafe key reports the key around it.
    """
    try:
        return Scan(None, None, _walk(value, 0, max_depth, None))
    except _Found as found:
        return Scan(found.problem, found.key, False)


def check_variables(variables: Mapping[str, Any]) -> bool:
    """Refuse (`BadUserInput`) variables too deep or holding unsafe text; True when a float
    was seen (the fast path leaves those to the exact `json` reader).

    Each variable's value may nest `MAX_INPUT_DEPTH` objects or lists. The error names the
    variable (too deep) or the innermost field holding the text.
    """
    holds_float = False
    for name, value in variables.items():
        if unsafe_text(name):
            raise BadUserInput({"variables": UNSAFE_TEXT})
        scan = scan_json(value)
        if scan.problem is TOO_DEEP:
            raise NestedTooDeep({name: TOO_DEEP})
        if scan.problem is not None:
            raise BadUserInput({scan.key or name: scan.problem})
        holds_float = holds_float or scan.holds_float
    return holds_float


def check_body(body: Any) -> None:
    """Refuse (`BadUserInput`) a parsed body holding a value too deep or unsafe text
    anywhere: `variables` as `check_variables` does, every other member (`query`,
    `operationName`, `extensions`, unknown keys) alike, and each item of a batch."""
    for item in body if isinstance(body, list) else [body]:
        if not isinstance(item, dict):
            if (scan := scan_json(item, MAX_INPUT_DEPTH + 1)).problem is not None:
                raise _refusal(scan.problem, "body")
            continue
        for member, value in item.items():
            if unsafe_text(member):
                raise BadUserInput({"body": UNSAFE_TEXT})
            if member == "variables" and isinstance(value, dict):
                check_variables(value)
            # One level more for the member's own object, as for `variables`.
            elif (scan := scan_json(value, MAX_INPUT_DEPTH + 1)).problem is not None:
                raise _refusal(scan.problem, member)


def _refusal(problem: str, field: str) -> BadUserInput:
    return NestedTooDeep({field: problem}) if problem is TOO_DEEP else BadUserInput({field: problem})


def _input_name(parent: Any, ancestors: Any) -> str | None:
    """The argument or input field a literal belongs to (the nearest one)."""
    for node in (parent, *reversed(ancestors)):
        if isinstance(node, (ObjectFieldNode, ArgumentNode)):
            return str(node.name.value)
    return None


class SafeLiterals(ValidationRule):
    """Refuses object and list literals nested deeper than `MAX_INPUT_DEPTH`, and string
    literals holding a NUL: graphql-core's lexer takes a raw NUL inside a string and the
    escapes `\\u0000` and `\\u{0}` (it refuses unpaired surrogates itself).

    Validation runs once per distinct document on both paths (both cache it), so this
    costs nothing per request. graphql-core's parser stops nesting at 200 on its own.
    """

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.depth = 0
        self.too_deep_reported = False

    def _report(self, node: Node, name: str | None, problem: str) -> None:
        # `web.errors.code_error` finds the field for `fields` in "at 'name'".
        where = f" at '{name}'" if name else ""
        self.report_error(
            GraphQLError(
                f"Invalid value{where}: {problem}", node, extensions={"code": ErrorCode.BAD_USER_INPUT.value}
            )
        )

    def _enter_container(self, node: Node, parent: Any, ancestors: Any) -> None:
        self.depth += 1
        if self.depth > MAX_INPUT_DEPTH and not self.too_deep_reported:
            self.too_deep_reported = True
            self._report(node, _input_name(parent, ancestors), TOO_DEEP)

    def enter_object_value(self, node: Node, _key: Any, parent: Any, _path: Any, ancestors: Any) -> None:
        """One level of nesting more."""
        self._enter_container(node, parent, ancestors)

    def enter_list_value(self, node: Node, _key: Any, parent: Any, _path: Any, ancestors: Any) -> None:
        """One level of nesting more."""
        self._enter_container(node, parent, ancestors)

    def leave_object_value(self, *_: object) -> None:
        """One level of nesting less."""
        self.depth -= 1

    def leave_list_value(self, *_: object) -> None:
        """One level of nesting less."""
        self.depth -= 1

    def enter_string_value(
        self, node: StringValueNode, _key: Any, parent: Any, _path: Any, ancestors: Any
    ) -> None:
        """Refuse a string literal holding a NUL."""
        if unsafe_text(node.value):
            self._report(node, _input_name(parent, ancestors), UNSAFE_TEXT)
