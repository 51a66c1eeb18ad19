"""Microseconds per step of an authenticated `me`, and what one permission check costs on
each engine, timed in-process (no HTTP, no load).

    .venv/bin/python bench/breakdown.py

Complements `bench/profile.py` (shares under real load) with absolute costs of the steps
that make up one request, on a seeded SQLite database, with production settings. Each
figure is the best of several batches (the least disturbed by other processes).
It also reports whether strawberry's `ValidationCache` hits: its key includes the
validation rule classes, so rule classes created per request validate every request.
"""

from __future__ import annotations

import asyncio
import json
import shutil
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

    from auth.backend import AuthBackend
    from bench.seed import seed
    from core.client import client_info
    from core.db import tortoise_config
    from core.settings import Settings
    from models import User
    from schema.build import build_schema

    workdir = Path(tempfile.mkdtemp(prefix="gatehouse-breakdown-"))
    # Production settings refuse a bcrypt cost under 10; nothing timed here hashes.
    env = {**base_env(10, None), "DATABASE_URL": f"sqlite://{workdir / 'bench.db'}"}
    settings = Settings.from_env(env)
    seeded = await seed(settings, 120)  # `users(first: 100)` for the gated rows
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        backend = AuthBackend.build(settings)
        alice = await User.get(username_key="alice")
        client = client_info(Request(scope_with({})), settings)
        tokens = await backend.bearer.write_token(alice, client)
        session_id, _ = await backend.sessions.write_token(alice, client)
        api_token, _ = await backend.api_tokens.write_token(alice, "bench", [], 30, None)
        claims = backend.bearer.jwt.verify(tokens.access_token)
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
            backend.bearer.jwt.verify(tokens.access_token)

        results.append(("JWT signature and claims (PyJWT)", await best_of(jwt_verify)))

        async def read_family() -> None:
            await backend.bearer.refresh.read_family(claims.family_id)

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
            authenticate = backend.authenticator.authenticate
            await authenticate(request, client_info(request, settings))  # fills caches

            async def resolve(request: Request = request) -> None:
                await backend.authenticator.authenticate(request, client_info(request, settings))

            results.append((f"Authenticator.authenticate, {name}", await best_of(resolve)))

        from auth.identity import Identity, Scheme

        identity = Identity(user=alice, roles=frozenset(alice.roles), scheme=Scheme.JWT)
        context = {"identity": identity}

        class Context:
            def __init__(self) -> None:
                self.identity = identity

            def __getitem__(self, key: str) -> Any:
                return context[key]

        from schema.engine import build_engine

        engine = build_engine(build_schema(settings), settings)
        prepared = engine.prepare(ME_QUERY)

        async def execute() -> None:
            outcome = await engine.execute(prepared, None, None, Context())
            assert not outcome.errors, outcome.errors

        results.append((f"{engine.name} engine: execute(me), prepared once", await best_of(execute)))

        # 100 permission checks: a page of 100 users read once (the database read varies
        # far more than the checks cost), served by a one-field schema through each engine:
        # `email` (@isSelfOrHasRole, as in `User`) against `username` (ungated), as the
        # admin. The difference per field is what one check costs.
        import strawberry

        from schema.engine import ENGINES
        from schema.types import User as UserType

        page = [UserType.from_row(row) for row in await User.all().limit(100)]
        admin_row = await User.get(username_key="admin")
        admin = Identity(user=admin_row, roles=frozenset(admin_row.roles), scheme=Scheme.JWT)

        class AdminContext:
            identity = admin

        @strawberry.type
        class PageQuery:
            users: list[Any] = strawberry.field(resolver=lambda: page, graphql_type=list[UserType])

        page_schema = strawberry.Schema(query=PageQuery)
        for engine_name, engine_class in ENGINES.items():
            each = engine_class(page_schema, (), settings.max_tokens)
            runs = {}
            for label, text in (("gated", "{ users { email } }"), ("ungated", "{ users { username } }")):
                prepared_page = each.prepare(text)

                async def run_page(prepared_page: Any = prepared_page, each: Any = each) -> None:
                    outcome = await each.execute(prepared_page, None, None, AdminContext())
                    assert not outcome.errors, outcome.errors

                runs[label] = run_page
            # Alternating batches, the best of each: a neighbour slows both sides alike.
            timings = {"gated": float("inf"), "ungated": float("inf")}
            for _ in range(10):
                for label, run_page in runs.items():
                    timings[label] = min(timings[label], await best_of(run_page, calls=20, batches=1))
            for label, micros in timings.items():
                results.append((f"{engine_name} engine: 100 users, {label} field", micros))
            per_check = (timings["gated"] - timings["ungated"]) / 100
            results.append((f"{engine_name} engine: one permission check (gated - ungated) / 100", per_check))

        answer = {"data": {"me": {"id": str(alice.id), "username": "alice", "email": "alice@example.com"}}}

        async def encode() -> None:
            json.dumps(answer, separators=(",", ":"))

        results.append(("json.dumps of the answer", await best_of(encode)))
        width = max(len(n) for n, _ in results)
        for name, micros in results:
            print(f"{name:<{width}}  {micros:8.1f} µs" if micros else name)
    finally:
        await Tortoise.close_connections()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
