"""Microseconds per step of an authenticated `me`, timed in-process (no HTTP, no load).

    .venv/bin/python bench/breakdown.py

Complements `bench/profile.py` (shares under real load) with absolute costs of the steps
that make up one request, on a seeded SQLite database, with production settings. Each
figure is the best of several batches (the least disturbed by other processes).
It also times `schema.execute` for `me` with the schema as built and with its
validation rules created once (a stable key for strawberry's `ValidationCache`), which
is the difference between validating every request and validating once per query text.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import ME_QUERY, base_env


async def best_of(func: Callable[[], Awaitable[Any]], calls: int = 300, batches: int = 5) -> float:
    """The fastest batch's mean time of one call, in microseconds."""
    best = float("inf")
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(calls):
            await func()
        best = min(best, (time.perf_counter() - start) / calls)
    return best * 1e6


def stable_rules_schema(settings: Any) -> Any:
    """The schema with the same extensions, but validation rule classes created once."""
    from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ParserCache, ValidationCache
    from strawberry.extensions.disable_introspection import DisableIntrospection
    from strawberry.extensions.max_aliases import create_validator as alias_rule
    from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
    from strawberry.schema.config import StrawberryConfig

    from schema import build

    rules = [depth_rule(settings.max_query_depth, None), alias_rule(settings.max_aliases)]
    extensions: list[Any] = [
        ParserCache,
        ValidationCache,
        lambda: AddValidationRules(rules),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
    ]
    try:
        from schema.limits import OperationLimits  # a stable rule class already

        extensions.append(OperationLimits)
    except ImportError:
        pass
    extensions.append(build.ErrorCodes)
    if settings.production:
        extensions.append(DisableIntrospection)
    return build.GatehouseSchema(
        query=build.Query,
        mutation=build.Mutation,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=settings.production),
    )


def scope_with(headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "scheme": "https",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def main() -> None:
    from starlette.requests import Request
    from tortoise import Tortoise

    from auth.authenticate import resolve_identity
    from auth.backend import AuthBackend
    from bench.seed import seed
    from core.client import client_info
    from core.db import tortoise_config
    from core.settings import Settings
    from models import User
    from schema.build import build_schema
    from services import credentials as credential_service

    workdir = Path(tempfile.mkdtemp(prefix="gatehouse-breakdown-"))
    env = {**base_env(4, None), "DATABASE_URL": f"sqlite://{workdir / 'bench.db'}"}
    settings = Settings.from_env(env)
    seeded = await seed(settings, 20)
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        backend = AuthBackend.build(settings)
        alice = await User.get(username_key="alice")
        client = client_info(Request(scope_with({})), settings)
        tokens = await credential_service.issue_bearer(backend, alice, client)
        session_id, _ = await credential_service.start_session(backend, alice, client)
        api_token, _ = await backend.api_tokens.write(alice, "bench", [], 30, None)
        claims = backend.jwt.verify(tokens.access_token)
        ways = {
            "JWT": {"Authorization": f"Bearer {tokens.access_token}"},
            "session cookie": {"Cookie": f"{settings.session_cookie_name}={session_id}"},
            "API token": {"Authorization": f"Token {api_token}"},
        }
        import base64

        basic = base64.b64encode(f"alice:{seeded.password}".encode()).decode()
        ways["Basic (cached)"] = {"Authorization": f"Basic {basic}"}

        results: list[tuple[str, float]] = []

        async def jwt_verify() -> None:
            backend.jwt.verify(tokens.access_token)

        results.append(("JWT signature and claims (PyJWT)", await best_of(jwt_verify)))

        async def read_family() -> None:
            await backend.refresh.read_family(claims.family_id)

        results.append(
            ("refresh family + user row (Tortoise select_related, SQLite)", await best_of(read_family))
        )
        connection = Tortoise.get_connection("default")

        async def raw_select() -> None:
            await connection.execute_query(
                "SELECT c.*, u.* FROM credentials c JOIN users u ON u.id = c.user_id "
                "WHERE c.id = ? AND c.kind = ?",
                [claims.family_id, "REFRESH"],
            )

        results.append(("the same row as raw SQL (no ORM)", await best_of(raw_select)))

        async def session_read() -> None:
            await backend.sessions.read(session_id)

        results.append(("session row + user (digest, Tortoise)", await best_of(session_read)))
        for name, headers in ways.items():
            request = Request(scope_with({**headers, "X-Forwarded-Proto": "https"}))
            await resolve_identity(request, backend, client_info(request, settings))  # fills caches

            async def resolve(request: Request = request) -> None:
                await resolve_identity(request, backend, client_info(request, settings))

            results.append((f"resolve_identity, {name}", await best_of(resolve)))

        from auth.identity import Identity, Scheme

        identity = Identity(user=alice, roles=frozenset(alice.roles), scheme=Scheme.JWT)
        context = {"identity": identity}

        class Context:
            def __init__(self) -> None:
                self.identity = identity

            def __getitem__(self, key: str) -> Any:
                return context[key]

        for label, schema in (
            ("schema.execute(me), schema as built", build_schema(settings)),
            ("schema.execute(me), validation rules created once", stable_rules_schema(settings)),
        ):

            async def execute(schema: Any = schema) -> None:
                result = await schema.execute(ME_QUERY, context_value=Context())
                assert not result.errors, result.errors

            results.append((label, await best_of(execute)))

        answer = {"data": {"me": {"id": str(alice.id), "username": "alice", "email": "alice@example.com"}}}

        async def encode() -> None:
            json.dumps(answer, separators=(",", ":"))

        results.append(("json.dumps of the answer", await best_of(encode)))
        width = max(len(n) for n, _ in results)
        for name, micros in results:
            print(f"{name:<{width}}  {micros:8.1f} µs")
    finally:
        await Tortoise.close_connections()


if __name__ == "__main__":
    asyncio.run(main())
