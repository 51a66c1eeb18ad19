"""The Gatehouse app as `main.py serve` builds it, plus the benchmark's ceiling route.

Run by `bench/run.py` as `uvicorn bench.app:app`. `/ceiling` is a plain Starlette route in
the same app and process: it reads the request body and answers the exact bytes of the
`me` answer (written by the harness to the file named by `BENCH_CEILING_FILE`), so it
measures what uvicorn, httptools and Starlette cost without GraphQL or authentication.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.app import create_app
from core.settings import Settings

# Bench tooling, not application code: the ceiling's body is the harness's business.
CEILING_FILE = Path(os.environ.get("BENCH_CEILING_FILE", "bench/out/ceiling.json"))
HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}

_ceiling_body: bytes | None = None


async def ceiling(request: Request) -> Response:
    """The bytes of the `me` answer, as a plain route would serve them."""
    global _ceiling_body
    await request.body()
    if _ceiling_body is None:
        _ceiling_body = CEILING_FILE.read_bytes()
    return Response(_ceiling_body, media_type="application/json", headers=HEADERS)


app = create_app(Settings.from_env())
app.router.routes.insert(0, Route("/ceiling", ceiling, methods=["POST"]))
