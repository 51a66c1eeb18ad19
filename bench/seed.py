"""Seed a benchmark database through the services: alice, an admin, many plain users, and,
when the bench module is served (`SCHEMA_MODULES=bench.shelf`), 100 shelf items of alice.

Alice and the admin go through `accounts.register` and `accounts.create_admin` (password
rules, bcrypt at the configured cost). The other accounts (for `users(first: 100)` and
for the login row, which needs many distinct accounts so that per-account login limits
never interfere) are inserted in bulk with alice's password hash: registering hundreds
of accounts at bcrypt cost 12 would take minutes and measure nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise import Tortoise

from auth.backend import AuthBackend
from core.clock import utcnow
from core.db import apply_migrations, is_sqlite, tortoise_config
from core.settings import Settings
from models import User
from schema.modules import load_modules, model_apps
from services.accounts import create_admin, register

SHELF_MODULE = "bench.shelf"  # the bench's schema module (SCHEMA_MODULES), see bench/shelf/
SHELF_ITEMS = 100  # on alice's shelf, for the module row

PASSWORD = "violet-Harbor-93-sprocket"  # passes the password rules; only ever on 127.0.0.1


@dataclass(frozen=True)
class Seeded:
    """What the harness needs to know about the seeded accounts."""

    user_login: str
    admin_login: str
    bulk_logins: list[str]
    password: str
    user_count: int
    shelf_items: int = 0
    scale_accounts: int = 0  # users with one API token each (`scale_token`), by COPY
    scale_seconds: float = 0.0  # how long their COPY took


def bulk_username(index: int) -> str:
    """The username of the `index`-th bulk account."""
    return f"bench{index:04d}"


async def seed(settings: Settings, bulk_accounts: int, scale_accounts: int = 0) -> Seeded:
    """Create the accounts in the (empty, migrated) database of `settings`, and the shelf
    items of alice when the bench module is served (`SCHEMA_MODULES=bench.shelf`)."""
    apps = model_apps(load_modules(settings.schema_modules))
    if is_sqlite(settings.database_url):
        await apply_migrations(settings.database_url, apps)
        await Tortoise.close_connections()
    await Tortoise.init(config=tortoise_config(settings.database_url, apps=apps))
    try:
        backend = AuthBackend.build(settings)
        alice = await register(backend.hasher, None, "alice", "alice@example.com", PASSWORD)
        caches = (backend.identity_cache, backend.basic_cache)
        await create_admin(backend.hasher, *caches, "admin", "admin@example.com", PASSWORD)
        now = utcnow()
        names = [bulk_username(i) for i in range(bulk_accounts)]
        await User.bulk_create(
            [
                User(
                    username=name,
                    username_key=name,
                    email=f"{name}@example.com",
                    email_key=f"{name}@example.com",
                    password_hash=alice.password_hash,
                    roles=[],
                    password_changed_at=now,
                )
                for name in names
            ],
            batch_size=500,
        )
        scale_seconds = 0.0
        if scale_accounts:  # one hash for all, computed once: bcrypt a million times is days
            scale_seconds = await seed_scale(settings.database_url, scale_accounts, alice.password_hash)
        user_count = await User.all().count()
        shelf_items = 0
        if SHELF_MODULE in settings.schema_modules:
            from bench.shelf.services import fill_shelf

            await fill_shelf(str(alice.id), SHELF_ITEMS)
            shelf_items = SHELF_ITEMS
    finally:
        await Tortoise.close_connections()
    return Seeded(
        "alice", "admin", names, PASSWORD, user_count, shelf_items, scale_accounts, round(scale_seconds, 1)
    )


def main() -> None:
    """`python -m bench.seed N [M]`: seed `DATABASE_URL` with N bulk accounts (and M scale
    accounts with an API token each, PostgreSQL only), print JSON.

    The harness seeds in a child process: Tortoise keeps per-dialect query caches on
    the model classes, so one process cannot seed SQLite and then PostgreSQL.
    """
    import asyncio
    import json
    import sys
    from dataclasses import asdict

    scale = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    seeded = asyncio.run(seed(Settings.from_env(), int(sys.argv[1]), scale))
    print(json.dumps(asdict(seeded)))


SCALE_TOKEN_PREFIX = "gth_"  # auth/secrets.py API_TOKEN_PREFIX: the scale rows are API tokens


def scale_token(index: int) -> str:
    """The API token of the `index`-th scale account: derived, so the harness can send
    100,000 distinct ones without keeping a million in memory (43 URL-safe characters, as
    `new_secret` makes them)."""
    import base64
    import hashlib

    raw = hashlib.sha256(f"gatehouse-bench-scale-{index}".encode()).digest()
    return SCALE_TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def seed_scale(database_url: str, count: int, password_hash: str) -> float:
    """`count` more users and one API token each, by PostgreSQL COPY (asyncpg's
    `copy_records_to_table`), every user with the one precomputed `password_hash`;
    returns the seconds it took. Created after the seeded accounts, so they stay first."""
    import datetime as dt
    import time
    import uuid

    import asyncpg

    from auth.secrets import digest

    started = time.monotonic()
    connection = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        base = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        expires = base + dt.timedelta(days=30)
        batch = 100_000
        for start in range(0, count, batch):
            users, tokens = [], []
            for index in range(start, min(start + batch, count)):
                user_id = uuid.uuid4()
                name = f"scale{index:07d}"
                moment = base + dt.timedelta(microseconds=index)
                users.append(
                    (
                        user_id,
                        name,
                        name,
                        f"{name}@example.com",
                        f"{name}@example.com",
                        password_hash,
                        True,
                        "[]",
                        moment,
                        moment,
                        moment,
                    )
                )
                tokens.append(
                    (
                        uuid.uuid4(),
                        user_id,
                        "API_TOKEN",
                        digest(scale_token(index)),
                        "scale",
                        "[]",
                        moment,
                        expires,
                        moment,
                        '["pwd"]',
                    )
                )
            await connection.copy_records_to_table(
                "users",
                records=users,
                columns=[
                    "id",
                    "username",
                    "username_key",
                    "email",
                    "email_key",
                    "password_hash",
                    "is_active",
                    "roles",
                    "created_at",
                    "updated_at",
                    "password_changed_at",
                ],
            )
            await connection.copy_records_to_table(
                "credentials",
                records=tokens,
                columns=[
                    "id",
                    "user_id",
                    "kind",
                    "secret_hash",
                    "name",
                    "scopes",
                    "created_at",
                    "expires_at",
                    "auth_time",
                    "amr",
                ],
            )
        await connection.execute("ANALYZE users; ANALYZE credentials")
    finally:
        await connection.close()
    return time.monotonic() - started


if __name__ == "__main__":
    main()
