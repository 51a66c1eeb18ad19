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


def bulk_username(index: int) -> str:
    """The username of the `index`-th bulk account."""
    return f"bench{index:04d}"


async def seed(settings: Settings, bulk_accounts: int) -> Seeded:
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
        user_count = await User.all().count()
        shelf_items = 0
        if SHELF_MODULE in settings.schema_modules:
            from bench.shelf.services import fill_shelf

            await fill_shelf(str(alice.id), SHELF_ITEMS)
            shelf_items = SHELF_ITEMS
    finally:
        await Tortoise.close_connections()
    return Seeded("alice", "admin", names, PASSWORD, user_count, shelf_items)


def main() -> None:
    """`python -m bench.seed N`: seed `DATABASE_URL` with N bulk accounts, print JSON.

    The harness seeds in a child process: Tortoise keeps per-dialect query caches on
    the model classes, so one process cannot seed SQLite and then PostgreSQL.
    """
    import asyncio
    import json
    import sys
    from dataclasses import asdict

    seeded = asyncio.run(seed(Settings.from_env(), int(sys.argv[1])))
    print(json.dumps(asdict(seeded)))


if __name__ == "__main__":
    main()
