"""`GET /healthz` (web/health.py): ok only when the database answers and holds every committed
migration; the migration record is read at start and then at most every 30 seconds, never on
every probe. A database that does not answer: tests/e2e/test_faults.py (PostgreSQL stopped)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine

from core.db import MIGRATIONS_TABLE, default_connection
from tests.helpers import app_client, make_settings
from tests.helpers.backends import empty_database
from web.health import MIGRATIONS_RECHECK_INTERVAL

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
LATER = MIGRATIONS_RECHECK_INTERVAL.total_seconds() + 1


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with empty_database(tmp_path, "health") as database_url:
        yield database_url


async def test_healthz_is_ok_on_a_migrated_database(url: str):
    async with app_client(make_settings(database_url=url, migrate_on_start=True)) as client:
        answer = await client.get("/healthz")

    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


async def test_healthz_is_503_once_the_database_lacks_a_migration(url: str):
    """A database restored from an older backup, or emptied, under a running server."""
    with time_machine.travel(T0, tick=False) as clock:
        async with app_client(make_settings(database_url=url, migrate_on_start=True)) as client:
            assert (await client.get("/healthz")).status_code == 200
            forgotten = await default_connection().execute_query_dict(
                f"SELECT app, name FROM {MIGRATIONS_TABLE} WHERE app = 'models'"
            )
            await default_connection().execute_script(f"DELETE FROM {MIGRATIONS_TABLE} WHERE app = 'models'")

            # Read at most every 30 seconds: the probes in between take the last answer.
            assert (await client.get("/healthz")).status_code == 200
            clock.shift(LATER)
            unmigrated = await client.get("/healthz")
            again = await client.get("/healthz")

            values = ", ".join(f"('{row['app']}', '{row['name']}', '2027-03-01')" for row in forgotten)
            await default_connection().execute_script(
                f"INSERT INTO {MIGRATIONS_TABLE} (app, name, applied_at) VALUES {values}"
            )
            clock.shift(LATER)
            restored = await client.get("/healthz")

    assert unmigrated.status_code == 503
    assert unmigrated.json() == {
        "status": "unavailable",
        "reason": f"the database lacks {len(forgotten)} migration(s): run python main.py migrate",
    }
    assert again.status_code == 503
    assert restored.status_code == 200, restored.text

