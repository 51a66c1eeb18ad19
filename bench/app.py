"""The Gatehouse app as `main.py serve` builds it, plus two reference routes for the benchmark.

Run by `bench/run.py` as `uvicorn bench.app:app`. Both routes live in the same app and
process as `/graphql`, and answer the exact bytes of the `me` answer (which the harness
writes to the file named by `BENCH_CEILING_FILE` before the first request):

- `/ceiling`: a plain Starlette route that reads the body and answers the bytes. It
  measures what uvicorn, httptools and Starlette cost: the ceiling of the stack.
- `/floor`: a bare Strawberry schema answering `me` with those values, with the parser and
  validation caches and no authentication. It measures what GraphQL itself costs before
  Gatehouse adds anything, so the table can tell the framework's share from Gatehouse's.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

from app.factory import create_app
from core.settings import Settings

# Bench tooling, not application code: the ceiling's body is the harness's business.
CEILING_FILE = Path(os.environ.get("BENCH_CEILING_FILE", "bench/out/ceiling.json"))
HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@cache
def me_answer() -> bytes:
    """The bytes of the `me` answer, read once."""
    return CEILING_FILE.read_bytes()


async def ceiling(request: Request) -> Response:
    """The bytes of the `me` answer, as a plain route would serve them."""
    await request.body()
    return Response(me_answer(), media_type="application/json", headers=HEADERS)


@strawberry.type
class FloorUser:
    id: strawberry.ID
    username: str
    email: str
    roles: list[str]
    created_at: str  # already the string Gatehouse's DateTime prints


@strawberry.type
class FloorQuery:
    @strawberry.field
    def me(self) -> FloorUser:
        values = json.loads(me_answer())["data"]["me"]
        return FloorUser(
            id=strawberry.ID(values["id"]),
            username=values["username"],
            email=values["email"],
            roles=values["roles"],
            created_at=values["createdAt"],
        )


class FloorView(GraphQL):
    """Strawberry's ASGI view, encoding JSON as Gatehouse does (same bytes)."""

    def encode_json(self, data: object) -> str:
        return json.dumps(data, separators=(",", ":"))


floor = FloorView(
    strawberry.Schema(query=FloorQuery, extensions=[ParserCache, ValidationCache]),
    graphql_ide=None,
    allow_queries_via_get=False,
)

app = create_app(Settings.from_env(), freeze_heap=True)  # as `main.py serve` does
app.router.routes.insert(0, Route("/ceiling", ceiling, methods=["POST"]))
app.router.routes.insert(1, Route("/floor", floor, methods=["POST"]))
