"""Odd values in every string and ID argument of every root field: never a 500.

Issue 10, case 9 found single inputs answering 500 (a NUL in `login` on PostgreSQL, a lone
surrogate in a token name, a forged cursor). This sweep reads `schema.graphql`, finds every
`String` and `ID` slot of every root field (arguments, input object fields, list items),
and sends NUL, unpaired surrogates, huge strings and other odd values into each, as a
variable and as a literal, as an anonymous caller, a signed-in user and an admin. Every
answer must carry codes only, none of them `INTERNAL_SERVER_ERROR`, and no status 500.
Run it on SQLite and on PostgreSQL (`TEST_DATABASE_URL`): some faults only show there.
"""

from __future__ import annotations

import itertools
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    ast_from_value,
    build_schema,
    get_named_type,
    print_ast,
)

from core.settings import Settings
from tests.helpers import GRAPHQL, STRONG_PASSWORD, Persona, bearer, bearer_login, make_persona, make_settings

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = build_schema((ROOT / "schema.graphql").read_text())
# Section 6's codes before execution too: a lone surrogate written into a literal is a
# syntax error (GRAPHQL_PARSE_FAILED), a literal of the wrong type a validation failure.
CODES = {
    "UNAUTHENTICATED", "FORBIDDEN", "BAD_USER_INPUT", "RATE_LIMITED", "PAYLOAD_TOO_LARGE",
    "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED",
}  # fmt: skip

ODD = [
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\udc00\ud83d",
    "",
    " ",
    "\r\n\t",
    "x" * 100_000,
    "A" * 257,
    "\U0001f600" * 300,
    "\u202e\u0301\ufeff\u200b",
    "9" * 40,
    "-1",
    "00000000-0000-0000-0000-000000000000",
    "' OR '1'='1' --",
    "%s%n%x{0}",
    "null",
    "../../etc/passwd",
    "\\",
]
ODD_LITERALS = ["\x00", "\ud800", "x" * 100_000, "' OR '1'='1' --", "\\"]


@dataclass(frozen=True)
class Slot:
    """A place that takes a string: root type, field, and the path of keys to it."""

    root: str
    field: str
    path: tuple[str | int, ...]

    def __str__(self) -> str:
        return f"{self.root}.{self.field}." + ".".join(str(p) for p in self.path)


def _slots_in(type_: GraphQLInputType, path: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if isinstance(inner, GraphQLList):
        yield from _slots_in(inner.of_type, (*path, 0))
    elif isinstance(inner, GraphQLInputObjectType):
        for name, field in inner.fields.items():
            yield from _slots_in(field.type, (*path, name))
    elif isinstance(inner, GraphQLScalarType) and inner.name in ("String", "ID"):
        yield path


def root_fields() -> Iterator[tuple[str, str, GraphQLField]]:
    for root in (SCHEMA.query_type, SCHEMA.mutation_type):
        assert root is not None
        for name, field in root.fields.items():
            yield root.name, name, field


def all_slots() -> list[Slot]:
    return [
        Slot(root, name, path)
        for root, name, field in root_fields()
        for arg_name, arg in field.args.items()
        for path in _slots_in(arg.type, (arg_name,))
    ]


SLOTS = all_slots()
_counter = itertools.count()


def test_the_sweep_covers_every_string_argument():
    names = {str(slot) for slot in SLOTS}
    assert "Mutation.login.input.login" in names and "Query.users.after" in names
    assert "Mutation.createApiToken.scopes.0" in names
    assert len(SLOTS) >= 18


def base_value(type_: GraphQLInputType, where: str, ctx: dict[str, Any]) -> Any:
    """A valid value for a required input, so the odd one is what the server meets."""
    if where in ctx:
        return ctx[where]
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if isinstance(inner, GraphQLList):
        return [base_value(inner.of_type, where, ctx)]
    if isinstance(inner, GraphQLInputObjectType):
        return {
            name: base_value(field.type, f"{inner.name}.{name}", ctx)
            for name, field in inner.fields.items()
            if isinstance(field.type, GraphQLNonNull) or f"{inner.name}.{name}" in ctx
        }
    if isinstance(inner, GraphQLEnumType):
        return next(iter(inner.values))
    return {"String": "placeholder", "ID": str(uuid.uuid4()), "Int": 1, "Boolean": True}.get(inner.name, "x")


def arguments_for(slot: Slot, value: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    field = SCHEMA.get_type(slot.root).fields[slot.field]  # type: ignore[union-attr]
    arg_name = slot.path[0]
    args = {
        name: base_value(arg.type, f"{slot.field}.{name}", ctx)
        for name, arg in field.args.items()
        if isinstance(arg.type, GraphQLNonNull) or name == arg_name
    }
    target: Any = args
    for key in slot.path[:-1]:
        if isinstance(key, int):
            target = target[key]
        else:
            target = target.setdefault(key, {})
    last = slot.path[-1]
    if isinstance(last, int) and not target:
        target.append(value)
    else:
        target[last] = value
    return args


def document_for(slot: Slot, args: dict[str, Any], inline: bool) -> tuple[str, dict[str, Any]]:
    field = SCHEMA.get_type(slot.root).fields[slot.field]  # type: ignore[union-attr]
    selection = " { __typename }" if isinstance(get_named_type(field.type), GraphQLObjectType) else ""
    keyword = "query" if slot.root == "Query" else "mutation"
    if inline:
        literals = ", ".join(
            f"{name}: {print_ast(ast_from_value(value, field.args[name].type))}"  # type: ignore[arg-type]
            for name, value in args.items()
        )
        return f"{keyword} {{ {slot.field}({literals}){selection} }}", {}
    declared = ", ".join(f"${name}: {field.args[name].type}" for name in args)
    passed = ", ".join(f"{name}: ${name}" for name in args)
    return f"{keyword}({declared}) {{ {slot.field}({passed}){selection} }}", args


def context_for(persona: Persona | None, target: Persona) -> dict[str, Any]:
    n = next(_counter)
    return {
        "LoginInput.login": persona.username if persona else target.username,
        "LoginInput.password": persona.password if persona else STRONG_PASSWORD,
        "LoginInput.transport": "BEARER",
        "RegisterInput.username": f"sweep{n}",
        "RegisterInput.email": f"sweep{n}@example.com",
        "RegisterInput.password": STRONG_PASSWORD,
        "RegisterInput.transport": "BEARER",
        "changePassword.currentPassword": persona.password if persona else STRONG_PASSWORD,
        "changePassword.newPassword": "a brand new violet passphrase",
        "refreshToken.refreshToken": "gtr_" + "A" * 43,
        "createApiToken.name": "sweep token",
        "createApiToken.scopes": [],
        "grantRole.userId": target.id,
        "revokeRole.userId": target.id,
        "setUserActive.userId": target.id,
        "setUserActive.active": True,
    }


@pytest.fixture
def settings() -> Settings:
    plenty = "100000/minute"
    return make_settings(
        login_limit_per_account=plenty,
        login_limit_per_ip=plenty,
        register_limit_per_ip=plenty,
        refresh_limit_per_ip=plenty,
    )


async def post(client: httpx.AsyncClient, query: str, variables: dict[str, Any], headers: dict[str, str]):
    body = json.dumps({"query": query, "variables": variables})  # \\uXXXX escapes, as clients send
    return await client.post(GRAPHQL, content=body, headers={"Content-Type": "application/json", **headers})


def problems_in(response: httpx.Response) -> list[str]:
    if response.status_code >= 500:
        return [f"status {response.status_code}: {response.text[:200]}"]
    try:
        body = response.json()
    except ValueError:
        return [f"not JSON: {response.text[:200]}"]
    found = []
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code not in CODES:
            found.append(f"code {code}: {error.get('message')}")
    return found


@pytest.mark.parametrize("who", ["anonymous", "user", "admin"])
async def test_no_odd_value_in_any_argument_answers_500(
    http: httpx.AsyncClient, alice: Persona, admin: Persona, who: str, caplog
):
    persona = {"anonymous": None, "user": alice, "admin": admin}[who]
    headers: dict[str, str] = {}
    if persona is not None:
        headers = bearer((await bearer_login(http, persona.username, persona.password))["accessToken"])
    target = await make_persona(http, f"target_{who}")
    failures: list[str] = []
    with caplog.at_level(logging.ERROR):
        for slot in SLOTS:
            for inline, values in ((False, ODD), (True, ODD_LITERALS)):
                for value in values:
                    args = arguments_for(slot, value, context_for(persona, target))
                    query, variables = document_for(slot, args, inline)
                    http.cookies.clear()
                    try:
                        response = await post(http, query, variables, headers)
                    except Exception as exc:  # raised out of the app: a 500 under a server
                        failures.append(f"{slot} {value[:12]!r}: {type(exc).__name__} {exc}")
                        continue
                    failures += [
                        f"{slot} {'literal' if inline else 'variable'} {value[:12]!r}: {p}"
                        for p in problems_in(response)
                    ]
    assert not failures, "\n".join(failures[:40])
    unexpected = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not unexpected, unexpected[:10]
