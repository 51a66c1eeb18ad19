"""Gatehouse command line: `serve` (the default), `migrate`, `create-admin`, `rotate-keys`,
`export-schema`.

`main.TORTOISE_ORM` is the Tortoise config for Tortoise's own command line, with the
models of every module in `SCHEMA_MODULES`:
`SCHEMA_MODULES=examples.notes .venv/bin/tortoise -c main.TORTOISE_ORM makemigrations`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import secrets
import socket
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from core.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parent
SCHEMA_FILE = ROOT / "schema.graphql"


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        print(f"gatehouse: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _configuration_error(exc: SettingsError) -> SystemExit:
    print(f"gatehouse: configuration error: {exc}", file=sys.stderr)
    return SystemExit(2)


def _model_apps(settings: Settings) -> tuple[Any, ...]:
    """The Tortoise apps of `SCHEMA_MODULES` (core/db.py `ModelApp`); a bad module exits 2."""
    from schema.modules import load_modules, model_apps

    try:
        return model_apps(load_modules(settings.schema_modules))
    except SettingsError as exc:
        raise _configuration_error(exc) from None


def tortoise_cli_config() -> dict[str, Any]:
    """The config Tortoise's command line reads as `main.TORTOISE_ORM`: Gatehouse's models
    and those of every module in `SCHEMA_MODULES` (read alone: no key or database needed)."""
    from core.db import tortoise_config
    from schema.modules import load_modules, model_apps

    try:
        modules = load_modules(Settings.schema_modules_from_env())
    except SettingsError as exc:
        raise _configuration_error(exc) from None
    return tortoise_config("sqlite://gatehouse.db", apps=model_apps(modules))


def __getattr__(name: str) -> Any:
    # Computed on access only, so importing main reads no environment.
    if name == "TORTOISE_ORM":
        return tortoise_cli_config()
    raise AttributeError(f"module 'main' has no attribute {name!r}")


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the server with uvicorn."""
    import uvicorn

    from app.factory import create_app
    from app.preflight import check_before_serving
    from core.http_protocol import uvicorn_http_options
    from core.log_filters import drop_query_strings_from_uvicorn

    settings = _settings()
    # The backends answer, the database holds every migration (or start-up will apply
    # them: MIGRATE_ON_START), and the stored signing keys let this instance sign.
    if problem := asyncio.run(check_before_serving(settings)):
        print(f"gatehouse: {problem}", file=sys.stderr)
        return 2
    try:
        listener = _listen(settings.host, settings.port)
    except OSError as exc:
        print(f"gatehouse: cannot listen on {settings.host}:{settings.port}: {exc.strerror}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Tortoise logs each start and close of its connections at INFO, with their objects'
    # reprs: the lifespan's own checks would read as "Tortoise-ORM shutdown" at start.
    logging.getLogger("tortoise").setLevel(logging.WARNING)
    try:
        app = create_app(settings, freeze_heap=True)
    except SettingsError as exc:  # a setting that only building the app can check (a manifest)
        print(f"gatehouse: configuration error: {exc}", file=sys.stderr)
        return 2
    drop_query_strings_from_uvicorn()
    print(f"Gatehouse on http://{settings.host}:{settings.port}/graphql ({settings.app_env})", flush=True)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        # The access log prints query strings, where a stray token would land.
        access_log=False,
        # The app applies uvicorn's proxy-header middleware itself, as its outermost
        # layer (core/client.py `ForwardedHeaders`, TRUSTED_PROXIES); uvicorn's own
        # would apply it a second time, with its default trusted hosts.
        proxy_headers=False,
        # A request head over 64 KiB, or head, chunk-size lines and trailers over 128 KiB,
        # get 431 before they are held in memory (httptools has no bound of its own;
        # core/http_protocol.py). bench/run.py and docs/DEPLOYMENT.md pass the same options.
        **uvicorn_http_options(),
        log_level="info",
    )
    server = uvicorn.Server(config)
    server.run(sockets=[listener])
    return 0 if server.started else 3  # uvicorn's own status for a start-up that failed


def _listen(host: str, port: int) -> socket.socket:
    """The socket `serve` hands uvicorn, bound before the app is built, so a port in use
    stops start-up in one line (uvicorn binds only after the app's start-up, logging
    around its error). Bound as uvicorn binds (`Config.bind_socket`)."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    # A restart need not wait for the last run's connections in TIME_WAIT; a live
    # listener on the port still refuses the bind.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host.strip("[]"), port))
    except OSError:
        listener.close()
        raise
    return listener


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply the committed migrations to `DATABASE_URL`: Gatehouse's and every schema module's."""
    from tortoise import Tortoise

    from core.db import apply_migrations

    settings = _settings()
    apps = _model_apps(settings)

    async def run() -> None:
        try:
            await apply_migrations(settings.database_url, apps)
        finally:
            await Tortoise.close_connections()

    from core.preflight import check_backends

    if problem := asyncio.run(check_backends(settings.with_(redis_url=None))):
        print(f"gatehouse: {problem}", file=sys.stderr)
        return 2
    asyncio.run(run())
    print("migrations applied")
    return 0


def _unmigrated_database(settings: Settings, apps: tuple[Any, ...]) -> str | None:
    """Why a command that writes rows cannot run on this database, or `None`: the database
    does not answer, or (PostgreSQL: SQLite files are migrated by the commands themselves)
    it lacks migrations, which would otherwise end in a database error."""
    from core.db import is_sqlite, pending_migrations_at
    from core.preflight import check_backends, migrations_pending_line

    if problem := asyncio.run(check_backends(settings.with_(redis_url=None))):
        return problem
    if is_sqlite(settings.database_url):
        return None
    if pending := asyncio.run(pending_migrations_at(settings.database_url, apps)):
        return migrations_pending_line(settings.database_url, pending, starting=False)
    return None


def _read_new_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        second = getpass.getpass("Repeat password: ")
        if first != second:
            raise SystemExit("gatehouse: the passwords do not match")
        return first
    lines = sys.stdin.read().splitlines()
    if not lines or not lines[0]:
        raise SystemExit("gatehouse: no password on standard input")
    if len(lines) > 1 and lines[1] != lines[0]:
        raise SystemExit("gatehouse: the second line does not repeat the password")
    return lines[0]


def cmd_create_admin(args: argparse.Namespace) -> int:
    """Create an admin, or with `--promote` make an existing account one (ending every
    credential it had); the password comes from a prompt or standard input."""
    from tortoise import Tortoise

    from auth.backend import AuthBackend
    from core.db import apply_migrations, is_sqlite, tortoise_config
    from core.errors import BadUserInput
    from services.accounts import create_admin

    settings = _settings()
    apps = _model_apps(settings)
    if problem := _unmigrated_database(settings, apps):
        print(f"gatehouse: {problem}", file=sys.stderr)
        return 2
    password = _read_new_password()

    async def run() -> int:
        if is_sqlite(settings.database_url):
            await apply_migrations(settings.database_url, apps)
            await Tortoise.close_connections()
        await Tortoise.init(config=tortoise_config(settings.database_url, apps=apps))
        try:
            auth = AuthBackend.build(settings)
            user, created = await create_admin(
                auth.hasher,
                auth.identity_cache,
                auth.basic_cache,
                args.username,
                args.email,
                password,
                promote=args.promote,
            )
        except BadUserInput as exc:
            for field, message in exc.fields.items():
                print(f"gatehouse: {field}: {message}", file=sys.stderr)
            return 1
        finally:
            await Tortoise.close_connections()
        if created:
            print(f"created admin {user.username} ({user.id})")
        else:
            print(f"promoted admin {user.username} ({user.id}); every earlier sign-in and token of it ended")
        return 0

    return asyncio.run(run())


def cmd_rotate_keys(args: argparse.Namespace) -> int:
    """Add a signing key, published at once and signing from `PUBLICATION_LEAD` seconds on
    (or `--activate-after` seconds; every instance within JWT_KEYS_RELOAD_INTERVAL seconds
    of that), or with `--retire=KID` end one: tokens it signed stop verifying. Refused
    under JWT_ALGORITHM=HS256, whose keys are SECRET_KEY and PREVIOUS_SECRET_KEYS."""
    from tortoise import Tortoise

    from auth.keyring import (
        HMAC_ALGORITHM,
        PUBLICATION_LEAD,
        ForeignSecretKey,
        SigningKeyUnknown,
        retire_key,
        rotate_key,
    )
    from core.clock import utcnow
    from core.db import apply_migrations, is_sqlite, tortoise_config
    from services.signing_keys import SigningKeyRows

    # Options of an addition are refused with --retire rather than ignored: the operator
    # who typed them meant something --retire would not do.
    for given, option, meaning in (
        (args.activate_after is not None, "--activate-after", "says when a new key signs"),
        (args.despite_unreadable_keys, "--despite-unreadable-keys", "lets rotate-keys add a key"),
    ):
        if args.retire is not None and given:
            refusal = f"{option} {meaning}; it does not go with --retire (nothing changed)"
            print(f"gatehouse: {refusal}", file=sys.stderr)
            return 2
    settings = _settings()
    if settings.jwt_algorithm == HMAC_ALGORITHM:
        print(
            "gatehouse: JWT_ALGORITHM=HS256 keeps no signing keys in the database: rotate SECRET_KEY "
            "(the old one into PREVIOUS_SECRET_KEYS) instead",
            file=sys.stderr,
        )
        return 2
    apps = _model_apps(settings)
    if problem := _unmigrated_database(settings, apps):
        print(f"gatehouse: {problem}", file=sys.stderr)
        return 2

    async def run() -> int:
        if is_sqlite(settings.database_url):
            await apply_migrations(settings.database_url, apps)
            await Tortoise.close_connections()
        await Tortoise.init(config=tortoise_config(settings.database_url, apps=apps))
        store = SigningKeyRows()
        try:
            if args.retire is not None:  # `--retire=` (an empty $KID) retires, never rotates
                try:
                    await retire_key(
                        store,
                        settings.jwt_algorithm,
                        args.retire,
                        settings.secret_key,
                        settings.previous_secret_keys,
                    )
                except SigningKeyUnknown as exc:
                    print(f"gatehouse: {exc}", file=sys.stderr)
                    return 1
                print(f"retired {args.retire}: tokens it signed stop verifying once instances reload")
                return 0
            first = not await store.live(settings.jwt_algorithm)
            now = utcnow()
            activates_at = None
            if args.activate_after is not None:
                activates_at = now + timedelta(seconds=args.activate_after)
            try:
                kid = await rotate_key(
                    store,
                    settings.jwt_algorithm,
                    settings.secret_key,
                    settings.previous_secret_keys,
                    despite_unreadable_keys=args.despite_unreadable_keys,
                    activates_at=activates_at,
                )
            except ForeignSecretKey as exc:
                print(f"gatehouse: {exc}", file=sys.stderr)
                return 1
        finally:
            await Tortoise.close_connections()
        if first:
            print(f"added {settings.jwt_algorithm} key {kid}: the first key, it signs at once")
            return 0
        signs_from = max(now + timedelta(seconds=PUBLICATION_LEAD), activates_at or now)
        print(
            f"added {settings.jwt_algorithm} key {kid}: published now; it signs from "
            f"{signs_from.isoformat(timespec='seconds')} on every instance that has reloaded by then"
        )
        return 0

    return asyncio.run(run())


def export_sdl() -> str:
    """The printed schema (SDL) as committed in `schema.graphql`."""
    from schema.build import build_schema

    # The SDL does not depend on the key; a random one keeps the weak-key warning quiet.
    settings = Settings.from_env({"SECRET_KEY": secrets.token_urlsafe(32), "APP_ENV": "development"})
    return build_schema(settings).as_str() + "\n"


def cmd_export_schema(args: argparse.Namespace) -> int:
    """Write the SDL to `schema.graphql` at the repository root."""
    SCHEMA_FILE.write_text(export_sdl())
    print(f"wrote {SCHEMA_FILE}")
    return 0


MAX_ACTIVATION_DELAY = 7 * 24 * 3600  # seconds: a week


def _activation_delay(text: str) -> int:
    """`--activate-after`: whole seconds, 0 to MAX_ACTIVATION_DELAY."""
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_ACTIVATION_DELAY:
        raise argparse.ArgumentTypeError(
            f"expected whole seconds from 0 to {MAX_ACTIVATION_DELAY}, not {text!r}"
        )
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(prog="python main.py", description="Gatehouse auth server.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("serve", help="run the server (default)").set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    admin = sub.add_parser(
        "create-admin", help="create or promote an admin (password from a prompt or stdin)"
    )
    admin.add_argument("--username", required=True)
    admin.add_argument("--email", required=True)
    admin.add_argument(
        "--promote",
        action="store_true",
        help="make the existing account with exactly this username and this email an admin, "
        "with the new password; every credential it had ends (without it, an existing "
        "username or email is refused)",
    )
    admin.set_defaults(func=cmd_create_admin)
    rotate = sub.add_parser(
        "rotate-keys",
        help="add a signing key (published at once, it signs a few seconds later, once "
        "instances reload; older keys keep verifying), or end one with --retire=KID (with "
        "'=': a kid may begin with '-')",
    )
    rotate.add_argument(
        "--retire",
        metavar="KID",
        help="end the key KID: tokens it signed stop verifying (the key that signs now is "
        "refused: rotate first)",
    )
    rotate.add_argument(
        "--despite-unreadable-keys",
        action="store_true",
        help="add the key even though this SECRET_KEY (and PREVIOUS_SECRET_KEYS) opens none of "
        "the live keys: only when the SECRET_KEY they were stored under is lost, and the "
        "instances run with this one (not with --retire)",
    )
    rotate.add_argument(
        "--activate-after",
        metavar="SECONDS",
        type=_activation_delay,
        help="publish the new key now but sign with it only SECONDS from now (0 to "
        f"{MAX_ACTIVATION_DELAY}): time for verifiers' cached key sets to take it in "
        "(docs/TOKENS.md: 330 behind a shared HTTP cache)",
    )
    rotate.set_defaults(func=cmd_rotate_keys)
    sub.add_parser("export-schema", help="write the SDL to schema.graphql").set_defaults(
        func=cmd_export_schema
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    func = getattr(args, "func", cmd_serve)
    return int(func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
