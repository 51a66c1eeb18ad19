"""One pipeline (contract section 6): every request that reaches execution gets the same
answer whichever engine serves it.

One conversation (successes, every error kind, each credential scheme, the mutations that
sign in and out, lists, nested selections, fragments, aliases, variables, directives,
`__typename`, persisted queries, GET) is held with two apps built from the same settings
but `graphql_executor`, each over fresh backends, one after the other. Status, JSON body
and the headers a client acts on must be equal once the values that differ by nature
(ids, tokens, cursors, cookie values, timestamps, `Retry-After` seconds) are replaced by
placeholders numbered in order of appearance. The compiled engine's plans are counted, so
the comparison cannot pass by both apps running graphql-core.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from schema.engine import plans
from tests.helpers import (
    CREATE_TOKEN,
    GRAPHQL,
    LOGIN,
    REGISTER,
    STRONG_PASSWORD,
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    app_client,
    make_settings,
    reset_postgres,
    reset_redis,
)

ENGINES = ("compiled", "graphql-core")
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
# Headers a client acts on; the rest (date, content-length) differ by nature or not at all.
COMPARED_HEADERS = (
    "content-type",
    "cache-control",
    "pragma",
    "www-authenticate",
    "retry-after",
    "allow",
    "vary",
    "set-cookie",
    "access-control-allow-origin",
    "access-control-allow-credentials",
)
# Keys whose values differ by nature between two runs.
ID_KEYS = {"id", "userId"}
SECRET_KEYS = {"accessToken", "refreshToken", "token", "cursor", "endCursor", "after"}
TIME_KEYS = {"createdAt", "lastUsedAt", "expiresAt"}
SETTINGS = {
    "login_limit_per_account": "3/minute",
    "allowed_origins": ("https://app.example.com",),
}
NEW_PASSWORD = "a brand new passphrase for alice"


@dataclass
class Exchange:
    """One request of the conversation and what came back."""

    step: str
    status: int
    headers: dict[str, list[str]]
    body: Any
    planned: int = 0  # operations a compiled plan ran for this request


@dataclass
class Conversation:
    """The requests of one run, with what earlier answers gave (tokens, ids, cookies)."""

    client: httpx.AsyncClient
    exchanges: list[Exchange] = field(default_factory=list)
    saved: dict[str, Any] = field(default_factory=dict)
    # How many operations compiled plans have run so far (the `compiled_runs` fixture).
    plan_counter: list[int] = field(default_factory=lambda: [0])

    async def send(
        self,
        step: str,
        *,
        method: str = "POST",
        body: Any = None,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
        accept: str | None = JSON,
        content_type: str | None = JSON,
        headers: dict[str, str] | None = None,
        cookie: str | None = None,
    ) -> Any:
        """Send one request with exactly these headers (no cookie jar); returns the JSON body."""
        sent = dict(headers or {})
        if accept is not None:
            sent["Accept"] = accept
        if method == "POST" and content_type is not None:
            sent["Content-Type"] = content_type
        if cookie is not None:
            sent["Cookie"] = f"session={cookie}"
        if content is None and body is not None:
            content = json.dumps(body).encode()
        self.client.cookies.clear()
        request = self.client.build_request(method, GRAPHQL, content=content, params=params, headers=sent)
        if accept is None:
            del request.headers["accept"]
        plans_before = self.plan_counter[0]
        response = await self.client.send(request)
        try:
            parsed: Any = response.json()
        except ValueError:
            parsed = {"text": response.text}
        relevant = {
            name: response.headers.get_list(name) for name in COMPARED_HEADERS if name in response.headers
        }
        planned = self.plan_counter[0] - plans_before
        self.exchanges.append(Exchange(step, response.status_code, relevant, parsed, planned))
        cookie_value = response.cookies.get("session")
        if cookie_value:
            self.saved[f"{step}:cookie"] = cookie_value
        return parsed

    async def gql(self, step: str, query: str, variables: Any = None, **options: Any) -> Any:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return await self.send(step, body=body, **options)


def dig(value: Any, *path: str | int) -> Any:
    """`value[path...]`, or None when any step is missing (a run that differs still goes on)."""
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def bearer(value: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def basic(login: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


def register_input(name: str, transport: str = "BEARER", password: str = STRONG_PASSWORD) -> dict[str, Any]:
    return {
        "input": {
            "username": name,
            "email": f"{name}@example.com",
            "password": password,
            "transport": transport,
        }
    }


def login_input(login: str, password: str = STRONG_PASSWORD, transport: str = "BEARER") -> dict[str, Any]:
    return {"input": {"login": login, "password": password, "transport": transport}}


def apq(document: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(document.encode()).hexdigest()}}


ME = "query Me { me { id username email roles createdAt } }"
ME_FRAGMENT = (
    "query { me { ...Who } } fragment Who on User { id username ...More } fragment More on User { roles }"
)
WHO = "query Who($id: ID!) { user(id: $id) { __typename id username email createdAt } }"
USERS = (
    "query Users($first: Int, $after: String) { users(first: $first, after: $after) { totalCount "
    "edges { cursor node { id username roles } } nodes { username } pageInfo { hasNextPage endCursor } } }"
)
CREDENTIALS = "{ myCredentials { id kind name scopes createdAt lastUsedAt expiresAt userAgent current } }"
DIRECTIVES = (
    "query D($skip: Boolean!, $include: Boolean!) "
    "{ me { id username @skip(if: $skip) email @include(if: $include) roles } }"
)
TWO_OPERATIONS = "query A { me { id } } query B { __typename }"
# The module tests/schema/engine/library_module.py: an interface, a union, nested and
# optional objects, async resolvers and list items, lists of lists, gated by role, scope
# and the object-level IsOwnerOrHasRole (root lists filtered, parents judged).
LIBRARY_MODULE = "tests.schema.engine.library_module"
LIBRARY_QUERIES: list[tuple[str, str, dict[str, Any] | None]] = [
    (
        "interface list",
        "{ libraryItems { __typename id title note ... on LibraryBook { pages isbn shelfMark "
        "author { name born } } ... on LibraryFilm { minutes director { name } } } }",
        None,
    ),
    ("async items", "{ libraryItemsLater { __typename title ... on LibraryBook { isbn } } }", None),
    (
        "union list",
        "query S($t: String) { librarySearch(text: $t) { __typename ... on LibraryAuthor { name born } "
        "...Bits } } fragment Bits on LibraryItem { id title note }",
        {"t": "Austen"},
    ),
    ("optional interface", "{ libraryFavourite { title ... on LibraryFilm { director { name } } } }", None),
    ("own list filtered", "{ myLibraryBooks { id title summary note shelfMark } }", None),
    ("own object", "query B($id: ID!) { libraryBook(id: $id) { title summary } }", {"id": "b1"}),
    ("another's object", "query B($id: ID!) { libraryBook(id: $id) { title summary } }", {"id": "b2"}),
    ("lists of lists", "{ libraryShelf { label rows { title isbn } sparseRows { title } } }", None),
]
# Not planned (a directive): graphql-core runs it on the compiled engine too.
LIBRARY_UNPLANNED = "query D($x: Boolean!) { libraryItems { title note @include(if: $x) } }"


async def converse(c: Conversation, promote: Callable[[str], Any]) -> None:
    """The corpus: every request of the comparison, in order."""
    # -- anonymous, before anyone exists
    await c.gql("typename", "{ __typename }")
    await c.gql("typename gql-response", "{ __typename }", accept=GRAPHQL_RESPONSE_JSON)
    await c.gql("me anonymous", ME)
    await c.gql("me anonymous no accept", ME, accept=None)
    await c.gql("nested typename", "{ __typename me { __typename id } }")
    await c.gql("introspection type", '{ __type(name: "User") { name fields { name } } }')
    await c.gql("introspection schema", "{ __schema { queryType { name } mutationType { name } } }")
    await c.gql("protected anonymous", "{ myCredentials { id } }")
    await c.gql("protected anonymous gql-response", "{ myCredentials { id } }", accept=GRAPHQL_RESPONSE_JSON)
    await c.gql("protected beside public", "{ me { id } myCredentials { id } }")

    # -- signing up and in
    alice = await c.gql("register alice bearer", REGISTER, register_input("alice"))
    await c.gql("register bob cookie", REGISTER, register_input("bob", "COOKIE"))
    bob_cookie = c.saved.get("register bob cookie:cookie")
    root = await c.gql("register root", REGISTER, register_input("root"))
    await promote(dig(root, "data", "register", "user", "id"))
    await c.gql("register duplicate", REGISTER, register_input("ALICE"))
    await c.gql(
        "register invalid literal",
        'mutation { register(input: {username: "x!", email: "nope", password: "short"}) { user { id } } }',
    )
    await c.gql("register common password", REGISTER, register_input("carol", password="password123"))
    await c.gql("register coercion", REGISTER, {"input": {"username": 1, "email": "e"}})
    await c.gql("register gql-response", REGISTER, register_input("dave"), accept=GRAPHQL_RESPONSE_JSON)
    alice_token = dig(alice, "data", "register", "accessToken")
    alice_refresh = dig(alice, "data", "register", "refreshToken")
    root_login = await c.gql("login root", LOGIN, login_input("root"))
    root_token = dig(root_login, "data", "login", "accessToken")
    await c.gql("login wrong password", LOGIN, login_input("alice", "not the password at all"))
    await c.gql("login unknown user", LOGIN, login_input("nobody", "not the password at all"))
    await c.gql("login by email cookie", LOGIN, login_input("Bob@Example.com", transport="COOKIE"))
    for attempt in range(4):
        await c.gql(f"login flood {attempt}", LOGIN, login_input("dave", "wrong guess number x"))
    await c.gql("login flood gql-response", LOGIN, login_input("dave", "wrong"), accept=GRAPHQL_RESPONSE_JSON)

    # -- each scheme, good and bad
    await c.gql("me bearer", ME, headers=bearer(alice_token))
    await c.gql("me bearer gql-response", ME, headers=bearer(alice_token), accept=GRAPHQL_RESPONSE_JSON)
    await c.gql("me cookie", ME, cookie=bob_cookie)
    await c.gql("me basic", ME, headers=basic("alice", STRONG_PASSWORD))
    await c.gql("me basic wrong", ME, headers=basic("alice", "wrong password here"))
    await c.gql("me bearer garbage", ME, headers=bearer("garbage"))
    await c.gql("me token garbage", ME, headers={"Authorization": "Token garbage"})
    await c.gql("me unknown scheme", ME, headers={"Authorization": "Digest abc"})
    await c.gql("me stale cookie", ME, cookie="not-a-session")
    await c.gql("me cookie foreign origin", ME, cookie=bob_cookie, headers={"Origin": "https://evil.example"})
    await c.gql(
        "me cookie allowed origin", ME, cookie=bob_cookie, headers={"Origin": "https://app.example.com"}
    )

    # -- selections: fragments, aliases, variables, directives
    alice_id = dig(alice, "data", "register", "user", "id")
    bob_id = dig(await c.gql("bob id", "{ me { id } }", cookie=bob_cookie), "data", "me", "id")
    await c.gql("fragments", ME_FRAGMENT, headers=bearer(alice_token))
    await c.gql("inline fragment", "{ me { ... on User { id username } } }", headers=bearer(alice_token))
    await c.gql(
        "aliases", "{ a: me { id } b: me { name: username } me { roles } }", headers=bearer(alice_token)
    )
    await c.gql("user self", WHO, {"id": alice_id}, headers=bearer(alice_token))
    await c.gql("user other email forbidden", WHO, {"id": bob_id}, headers=bearer(alice_token))
    await c.gql(
        "user other beside me",
        "query($id: ID!) { me { id } user(id: $id) { username email } }",
        {"id": bob_id},
        headers=bearer(alice_token),
    )
    await c.gql(
        "user other no email",
        "query($id: ID!) { user(id: $id) { username } }",
        {"id": bob_id},
        headers=bearer(alice_token),
    )
    await c.gql(
        "user unknown", WHO, {"id": "00000000-0000-0000-0000-000000000000"}, headers=bearer(alice_token)
    )
    await c.gql("user malformed id", WHO, {"id": "not-an-id"}, headers=bearer(alice_token))
    await c.gql("user admin", WHO, {"id": bob_id}, headers=bearer(root_token))
    await c.gql("directives skip", DIRECTIVES, {"skip": True, "include": False}, headers=bearer(alice_token))
    await c.gql(
        "directives include", DIRECTIVES, {"skip": False, "include": True}, headers=bearer(alice_token)
    )
    await c.gql(
        "directive literal", "{ me { id username @include(if: false) } }", headers=bearer(alice_token)
    )

    # -- lists and pages
    await c.gql("users anonymous", USERS)
    await c.gql("users non-admin", USERS, headers=bearer(alice_token))
    page = await c.gql("users page 1", USERS, {"first": 2}, headers=bearer(root_token))
    cursor = dig(page, "data", "users", "pageInfo", "endCursor")
    await c.gql("users page 2", USERS, {"first": 2, "after": cursor}, headers=bearer(root_token))
    await c.gql("users default first", USERS, {}, headers=bearer(root_token))
    await c.gql("users bad cursor", USERS, {"after": "bm9wZQ=="}, headers=bearer(root_token))
    await c.gql("users first out of range", USERS, {"first": 100000}, headers=bearer(root_token))
    await c.gql("credentials", CREDENTIALS, headers=bearer(alice_token))
    await c.gql("credentials cookie", CREDENTIALS, cookie=bob_cookie)

    # -- tokens: create, use, revoke; refresh rotation; admin mutations
    created = await c.gql(
        "create token",
        CREATE_TOKEN,
        {"name": "ci", "scopes": ["users:read"], "days": 30},
        headers=bearer(alice_token),
    )
    api_token = dig(created, "data", "createApiToken", "token")
    api_token_id = dig(created, "data", "createApiToken", "credential", "id")
    await c.gql(
        "create token bad scope", CREATE_TOKEN, {"name": "x", "scopes": ["root"]}, headers=bearer(alice_token)
    )
    await c.gql("me api token", ME, headers={"Authorization": f"Token {api_token}"})
    await c.gql("me api token as bearer", ME, headers=bearer(api_token))
    await c.gql(
        "credentials api token missing scope", CREDENTIALS, headers={"Authorization": f"Token {api_token}"}
    )
    await c.gql(
        "revoke token",
        "mutation($id: ID!) { revokeCredential(id: $id) }",
        {"id": api_token_id},
        headers=bearer(alice_token),
    )
    await c.gql("me revoked api token", ME, headers={"Authorization": f"Token {api_token}"})
    rotated = await c.gql(
        "refresh",
        "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken expiresIn } }",
        {"t": alice_refresh},
    )
    alice_token = dig(rotated, "data", "refreshToken", "accessToken") or alice_token
    await c.gql(
        "refresh reused",
        "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }",
        {"t": alice_refresh},
    )
    await c.gql("me after family revoked", ME, headers=bearer(alice_token))
    relogin = await c.gql("login alice again", LOGIN, login_input("alice"))
    alice_token = dig(relogin, "data", "login", "accessToken")
    await c.gql(
        "grant role",
        'mutation($u: ID!) { grantRole(userId: $u, role: "auditor") { username roles } }',
        {"u": bob_id},
        headers=bearer(root_token),
    )
    await c.gql(
        "grant role non-admin",
        'mutation($u: ID!) { grantRole(userId: $u, role: "admin") { roles } }',
        {"u": alice_id},
        headers=bearer(alice_token),
    )
    await c.gql("me after role change", ME, cookie=bob_cookie)

    # -- a module's types, each caller: anonymous, owner, librarian, admin, API tokens
    await c.gql(
        "grant librarian",
        'mutation($u: ID!) { grantRole(userId: $u, role: "librarian") { roles } }',
        {"u": bob_id},
        headers=bearer(root_token),
    )
    library_tokens = {}
    for label, scopes in (("with library:read", ["library:read"]), ("without it", ["users:read"])):
        made = await c.gql(
            f"library token {label}",
            CREATE_TOKEN,
            {"name": f"library {label}", "scopes": scopes, "days": 30},
            headers=bearer(alice_token),
        )
        library_tokens[label] = {"Authorization": f"Token {dig(made, 'data', 'createApiToken', 'token')}"}
    library_callers: dict[str, dict[str, Any]] = {
        "anonymous": {},
        "owner": {"headers": bearer(alice_token)},
        "librarian": {"cookie": bob_cookie},
        "admin": {"headers": bearer(root_token)},
        "token with library:read": {"headers": library_tokens["with library:read"]},
        "token without it": {"headers": library_tokens["without it"]},
    }
    for caller, options in library_callers.items():
        for name, query, variables in LIBRARY_QUERIES:
            await c.gql(f"module {name} as {caller}", query, variables, **options)
        await c.gql(f"module unplanned as {caller}", LIBRARY_UNPLANNED, {"x": True}, **options)
    await c.gql(
        "change password wrong",
        'mutation { changePassword(currentPassword: "nope nope nope", '
        'newPassword: "a brand new passphrase") }',
        headers=bearer(alice_token),
    )
    await c.gql(
        "change password",
        "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
        {"c": STRONG_PASSWORD, "n": NEW_PASSWORD},
        headers=bearer(alice_token),
    )
    await c.gql(
        "two credential fields",
        'mutation { a: login(input: {login: "a", password: "bbbbbbbb"}) '
        '{ accessToken } b: login(input: {login: "a", password: "cccccccc"}) { accessToken } }',
    )

    # -- signing out
    await c.gql("logout anonymous", "mutation { logout }")
    await c.gql(
        "logout cookie foreign origin",
        "mutation { logout }",
        cookie=bob_cookie,
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    await c.gql("logout cookie", "mutation { logout }", cookie=bob_cookie)
    await c.gql("me after logout", ME, cookie=bob_cookie)
    await c.gql(
        "logout everywhere bearer", "mutation { logout(everywhere: true) }", headers=bearer(alice_token)
    )
    await c.gql("me after logout everywhere", ME, headers=bearer(alice_token))
    await c.gql(
        "deactivate",
        "mutation($u: ID!) { setUserActive(userId: $u, active: false) { username } }",
        {"u": bob_id},
        headers=bearer(root_token),
    )
    await c.gql("login deactivated", LOGIN, login_input("bob"))

    # -- documents refused before execution
    for query in (
        "{",
        "{ me { id ",
        "{ nope }",
        "{ me { id passwordHash } }",
        "subscription { me { id } }",
        '{ users(first: "ten") { totalCount } }',
        "{ me " + "{ a " * 20 + "}" * 21,
        "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(31)) + " }",
    ):
        await c.gql(f"refused {query[:40]}", query)
        await c.gql(f"refused {query[:40]} gql-response", query, accept=GRAPHQL_RESPONSE_JSON)
    await c.gql("coercion", "query($id: ID!) { user(id: $id) { id } }", {"id": None})
    await c.gql(
        "coercion gql-response",
        "query($id: ID!) { user(id: $id) { id } }",
        {"id": None},
        accept=GRAPHQL_RESPONSE_JSON,
    )

    # -- bad requests
    for label, content in [
        ("not json", b"{not json"),
        ("empty", b""),
        ("not utf-8", b"\xff\xfe"),
        ("array", b'[{"query": "{ me { id } }"}]'),
        ("no query", b"{}"),
        ("query not a string", b'{"query": 5}'),
        ("variables not an object", b'{"query": "{ me { id } }", "variables": [1]}'),
    ]:
        await c.send(f"bad request {label}", content=content)
        await c.send(f"bad request {label} gql-response", content=content, accept=GRAPHQL_RESPONSE_JSON)
    for extra in ({}, {"extensions": {}}, {"variables": {}}, {"operationName": None}):
        await c.send(f"two operations {sorted(extra)}", body={"query": TWO_OPERATIONS, **extra})
    await c.send("two operations named", body={"query": TWO_OPERATIONS, "operationName": "B"})
    await c.send("operation name unknown", body={"query": TWO_OPERATIONS, "operationName": "C"})
    await c.send("text/plain", content=b"{ me { id } }", content_type="text/plain")
    await c.send("no content type", content=b'{"query": "{ me { id } }"}', content_type=None)
    await c.send("not acceptable", body={"query": ME}, accept="text/plain")
    await c.send("put", method="PUT", body={"query": ME})
    await c.send("too large", content=b'{"query": "' + b" " * (1024 * 1024 + 1) + b'{ me { id } }"}')

    # -- GET
    await c.send("get query", method="GET", params={"query": ME})
    await c.send("get query gql-response", method="GET", params={"query": ME}, accept=GRAPHQL_RESPONSE_JSON)
    await c.send(
        "get variables",
        method="GET",
        headers=bearer(root_token),
        params={"query": WHO, "variables": json.dumps({"id": bob_id}), "operationName": "Who"},
    )
    await c.send(
        "get mutation", method="GET", params={"query": "mutation { logout }"}, headers=bearer(root_token)
    )
    await c.send("get no query", method="GET", params={})
    await c.send("get bad variables", method="GET", params={"query": ME, "variables": "{nope"})

    # -- persisted queries
    document = "query Persisted { me { username } }"
    await c.send("apq unknown", body={"extensions": apq(document)}, headers=bearer(root_token))
    await c.send(
        "apq register", body={"query": document, "extensions": apq(document)}, headers=bearer(root_token)
    )
    await c.send("apq hash", body={"extensions": apq(document)}, headers=bearer(root_token))
    await c.send(
        "apq get", method="GET", params={"extensions": json.dumps(apq(document))}, headers=bearer(root_token)
    )
    await c.send("apq mismatch", body={"query": ME, "extensions": apq(document)})


class Placeholders:
    """Values that differ by nature, numbered in order of first appearance in one run."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def name(self, kind: str, value: str) -> str:
        if value not in self.names:
            self.names[value] = f"<{kind} {sum(1 for n in self.names.values() if n.startswith(f'<{kind} '))}>"
        return self.names[value]

    def collect(self, value: Any, key: str | None = None) -> None:
        """Number every id and secret in `value` (before any text is rewritten)."""
        if isinstance(value, dict):
            for k, v in value.items():
                if k != "fields":  # `extensions.fields` maps field names to messages
                    self.collect(v, k)
        elif isinstance(value, list):
            for item in value:
                self.collect(item, key)
        elif isinstance(value, str) and key in ID_KEYS:
            self.name("id", value)
        elif isinstance(value, str) and key in SECRET_KEYS:
            self.name("secret", value)

    def rewrite_text(self, text: str) -> str:
        for value in sorted(self.names, key=len, reverse=True):
            text = text.replace(value, self.names[value])
        return text

    def rewrite(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: self.rewrite(v, None if k == "fields" else k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.rewrite(item, key) for item in value]
        if isinstance(value, str) and key in TIME_KEYS:
            return "<time>"
        if isinstance(value, str):
            return self.rewrite_text(value)
        return value


COOKIE_VALUE = re.compile(r"^(session=)([^;]+)")
EXPIRES = re.compile(r"(?i)(expires=)[^;]+")


def normalised(exchanges: list[Exchange]) -> list[dict[str, Any]]:
    """The run with ids, secrets, cookie values and times replaced by placeholders."""
    places = Placeholders()
    for exchange in exchanges:
        places.collect(exchange.body)
        for header in exchange.headers.get("set-cookie", []):
            match = COOKIE_VALUE.match(header)
            if match and match.group(2) != '""':
                places.name("cookie", match.group(2))
    result = []
    for exchange in exchanges:
        headers = {
            name: [places.rewrite_text(EXPIRES.sub(r"\1<time>", v)) for v in values]
            for name, values in exchange.headers.items()
        }
        if "retry-after" in headers:
            (seconds,) = headers["retry-after"]
            assert seconds.isdigit() and int(seconds) > 0, exchange
            headers["retry-after"] = ["<seconds>"]
        body = places.rewrite(exchange.body)
        for error in (body.get("errors") or []) if isinstance(body, dict) else []:
            if "retryAfter" in (error.get("extensions") or {}):
                error["extensions"]["retryAfter"] = "<seconds>"
        result.append({"step": exchange.step, "status": exchange.status, "headers": headers, "body": body})
    return result


async def fresh_backends() -> None:
    if TEST_DATABASE_URL:
        await reset_postgres(TEST_DATABASE_URL)
    if TEST_REDIS_URL:
        await reset_redis(TEST_REDIS_URL)


async def run_conversation(engine: str, plan_counter: list[int]) -> list[Exchange]:
    """The whole conversation with an app built for `engine`, over fresh backends."""
    from models import User

    await fresh_backends()
    settings = make_settings(graphql_executor=engine, schema_modules=(LIBRARY_MODULE,), **SETTINGS)
    async with app_client(settings) as client:

        async def promote(user_id: Any) -> None:
            await User.filter(id=user_id).update(roles=["admin"])

        conversation = Conversation(client, plan_counter=plan_counter)
        await converse(conversation, promote)
    return conversation.exchanges


@pytest.fixture
def compiled_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many operations ran on a compiled plan (counted, then run as they would be)."""
    count = [0]
    original = plans.CompiledQuery.execute

    async def counted(self: plans.CompiledQuery, *args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(plans.CompiledQuery, "execute", counted)
    return count


async def test_both_engines_give_the_same_answers(compiled_runs: list[int]):
    runs: dict[str, list[dict[str, Any]]] = {}
    plans_used: dict[str, int] = {}
    exchanges: dict[str, list[Exchange]] = {}
    for engine in ENGINES:
        before = compiled_runs[0]
        exchanges[engine] = await run_conversation(engine, compiled_runs)
        runs[engine] = normalised(exchanges[engine])
        plans_used[engine] = compiled_runs[0] - before

    compiled, reference = runs["compiled"], runs["graphql-core"]
    assert [e["step"] for e in compiled] == [e["step"] for e in reference]
    differences = [
        f"{mine['step']}:\n  compiled:     {json.dumps(mine, sort_keys=True)}\n"
        f"  graphql-core: {json.dumps(theirs, sort_keys=True)}"
        for mine, theirs in zip(compiled, reference, strict=True)
        if mine != theirs
    ]
    assert not differences, f"{len(differences)} of {len(compiled)} answers differ:\n" + "\n".join(
        differences
    )
    # The comparison means something: plans served part of it, and only in the compiled run.
    assert plans_used["graphql-core"] == 0, plans_used
    assert plans_used["compiled"] >= 15, plans_used
    # The module's types were planned, each request of them, and what cannot be planned
    # ran on graphql-core (no plan ran for it) with the same answer.
    module_steps = {e.step: e.planned for e in exchanges["compiled"] if e.step.startswith("module ")}
    unplanned = {step: n for step, n in module_steps.items() if step.startswith("module unplanned")}
    planned = {step: n for step, n in module_steps.items() if step not in unplanned}
    assert len(planned) == len(LIBRARY_QUERIES) * 6 and set(planned.values()) == {1}, planned
    assert len(unplanned) == 6 and set(unplanned.values()) == {0}, unplanned
    # ... and the corpus covers what it claims.
    statuses = {e["status"] for e in compiled}
    assert {200, 400, 401, 403, 405, 406, 413, 415, 429} <= statuses, sorted(statuses)
    codes = {
        (error.get("extensions") or {}).get("code")
        for e in compiled
        if isinstance(e["body"], dict)
        for error in e["body"].get("errors") or []
    }
    assert codes >= {
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "BAD_USER_INPUT",
        "RATE_LIMITED",
        "PAYLOAD_TOO_LARGE",
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "BAD_REQUEST",
        "PERSISTED_QUERY_NOT_FOUND",
    }, sorted(c for c in codes if c)


# -- one answer per request, whatever optional keys or method carry it --------------------

INVARIANT_QUERIES = [
    ("{ __typename }", None, None),
    (ME, None, None),
    (ME_FRAGMENT, None, None),
    (TWO_OPERATIONS, None, None),
    (TWO_OPERATIONS, None, "B"),
    ("query($id: ID!) { user(id: $id) { id } }", {"id": None}, None),
    ("query($id: ID!) { user(id: $id) { id } }", {"id": "00000000-0000-0000-0000-000000000000"}, None),
    ("{ nope }", None, None),
    ("{ me { id ", None, None),
    ("{ myCredentials { id } }", None, None),
    (USERS, {"first": 1}, None),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE_JSON], ids=["json", "gql-response"])
async def test_optional_keys_and_the_method_never_change_the_answer(clean_backends, engine: str, accept: str):
    """Issue 11: two operations without `operationName` answered BAD_USER_INPUT on the fast
    path but ran as soon as the body carried `"extensions": {}`. Every variant of a request
    (null or empty optional keys, an unknown key, GET for a query) gets one answer."""
    async with app_client(make_settings(graphql_executor=engine)) as client:
        for query, variables, name in INVARIANT_QUERIES:
            base: dict[str, Any] = {"query": query}
            if variables is not None:
                base["variables"] = variables
            if name is not None:
                base["operationName"] = name
            variants = [
                base,
                {**base, "extensions": {}},
                {**base, "extensions": None},
                {"variables": None, "operationName": None, **base},
                {"variables": {}, **base} if variables is None else {**base, "extensions": {"some": "value"}},
                {**base, "unknownKey": True},
            ]
            answers = []
            for body in variants:
                response = await client.post(GRAPHQL, json=body, headers={"Accept": accept})
                answers.append((response.status_code, response.headers["content-type"], response.json()))
            params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in base.items()}
            response = await client.get(GRAPHQL, params=params, headers={"Accept": accept})
            answers.append((response.status_code, response.headers["content-type"], response.json()))
            assert all(a == answers[0] for a in answers), f"{query!r} {variables}: " + json.dumps(
                answers, indent=1
            )
