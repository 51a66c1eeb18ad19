"""`GET /healthz`: 200 `{"status": "ok"}` when the database answers and holds every committed
migration; 503 `{"status": "unavailable", "reason": ...}` otherwise.

Probes hit it every few seconds on every instance, so it costs one `SELECT 1` a hit. The
migration record is read once at start (the lifespan refuses to serve a database that
lacks a migration) and then at most once every `MIGRATIONS_RECHECK_INTERVAL` seconds, by
the hit that finds the answer stale: a database restored from an older backup, or
replaced by an empty one, turns the probe to 503 within that interval.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse

from core.clock import utcnow
from core.db import database_answers, default_connection, pending_migrations

MIGRATIONS_RECHECK_INTERVAL = timedelta(seconds=30)


class HealthCheck:
    """The `/healthz` endpoint over the database of the running app; `committed` are the
    migrations it must hold (core/db.py `committed_migrations`), `None` for a database
    that is made from the models at every start (`sqlite://:memory:`)."""

    def __init__(self, committed: frozenset[str] | None, timeout: float) -> None:
        self._committed = committed
        self._timeout = timeout
        self._pending: tuple[str, ...] = ()
        self._checked_at: datetime | None = None
        self._rechecking = asyncio.Lock()

    async def check_migrations(self) -> tuple[str, ...]:
        """Read the migration record now; the committed migrations the database lacks."""
        if self._committed is not None:
            self._pending = await pending_migrations(default_connection(), self._committed)
        self._checked_at = utcnow()
        return self._pending

    async def _pending_now(self) -> tuple[str, ...]:
        fresh = self._checked_at is not None and utcnow() - self._checked_at < MIGRATIONS_RECHECK_INTERVAL
        if fresh or self._rechecking.locked():  # one hit re-reads; the others take the last answer
            return self._pending
        async with self._rechecking:
            try:
                async with asyncio.timeout(self._timeout):
                    await self.check_migrations()
            except Exception:  # noqa: BLE001 - the database answered a moment ago: ask again next hit
                return self._pending
        return self._pending

    async def endpoint(self, request: Request) -> JSONResponse:
        """Answer a probe."""
        if not await database_answers(self._timeout):
            return _unavailable("the database does not answer")
        pending = await self._pending_now()
        if pending:
            return _unavailable(f"the database lacks {len(pending)} migration(s): run python main.py migrate")
        return JSONResponse({"status": "ok"})


def _unavailable(reason: str) -> JSONResponse:
    return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
