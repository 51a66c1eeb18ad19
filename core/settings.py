"""Settings, read once from the environment (and a `.env` file) at start-up.

Nothing else in the code base reads `os.environ`: the `Settings` object is built by
`Settings.from_env()` in `main.py` (or by a test) and passed in explicitly.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

logger = logging.getLogger("gatehouse.settings")

ALL_SCHEMES = ("session", "jwt", "token", "basic")
MIN_SECRET_BYTES = 32
DEFAULT_SECRET_FILE = Path(".secret_key")


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


class Secret:
    """A string that never shows itself in `repr()`, `str()` or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value; call only where the value is really needed."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and secrets.compare_digest(
            self._value.encode(), other._value.encode()
        )

    def __hash__(self) -> int:
        return hash(self._value)


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "on", "yes"):
        return True
    if raw in ("0", "false", "off", "no"):
        return False
    raise SettingsError(f"{name} must be on or off, got {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    """Every tunable of a Gatehouse deployment. Build with `from_env` or directly in tests."""

    secret_key: Secret
    database_url: str = "sqlite://gatehouse.db"
    redis_url: str | None = None
    # Keys that no longer sign but still verify, newest first (key rotation).
    previous_secret_keys: tuple[Secret, ...] = ()
    app_env: str = "development"
    bcrypt_rounds: int = 12
    # Concurrent bcrypt computations; more only queue up behind the cores.
    bcrypt_concurrency: int = field(default_factory=lambda: max(1, len(os.sched_getaffinity(0))))
    allowed_origins: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8000
    trusted_proxies: tuple[str, ...] = ("127.0.0.1",)
    auth_schemes: tuple[str, ...] = ALL_SCHEMES
    jwt_issuer: str = "gatehouse"
    jwt_audience: str = "gatehouse"
    access_token_ttl: int = 900  # 15 minutes, in seconds
    refresh_token_ttl: int = 30 * 24 * 3600  # 30 days, in seconds
    session_idle_timeout: int = 2 * 24 * 3600  # 2 days, in seconds
    session_absolute_timeout: int = 14 * 24 * 3600  # 14 days, in seconds
    api_token_max_days: int = 366
    # How often last-used timestamps may be written; reads in between write nothing.
    last_used_write_interval: int = 60  # seconds
    basic_cache_ttl: int = 60  # seconds a verified Basic header is trusted
    # Keep verified credentials in memory, revalidated by generation (auth/identity_cache.py).
    identity_cache: bool = True
    max_body_bytes: int = 1024 * 1024  # 1 MiB
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2000
    # `limits` notation; several windows (";"-separated) make waits grow with repeated
    # failures, never past the longest window, so no account is locked for good.
    login_limit_per_account: str = "5/minute;10/5 minutes;20/15 minutes"
    login_limit_per_ip: str = "30/minute"
    register_limit_per_ip: str = "60/minute"
    refresh_limit_per_ip: str = "120/minute"
    db_timeout: float = 5.0  # seconds before a database call is abandoned
    auto_migrate: bool = True

    @property
    def production(self) -> bool:
        """True when running with `APP_ENV=production`."""
        return self.app_env == "production"

    @property
    def session_cookie_name(self) -> str:
        """`__Host-session` in production (requires Secure, Path=/, no Domain), else `session`."""
        return "__Host-session" if self.production else "session"

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (handy in tests)."""
        return replace(self, **changes)

    def __post_init__(self) -> None:
        unknown = set(self.auth_schemes) - set(ALL_SCHEMES)
        if unknown:
            raise SettingsError(
                f"AUTH_SCHEMES has unknown scheme(s) {sorted(unknown)}; use {','.join(ALL_SCHEMES)}"
            )
        if self.app_env not in ("development", "production", "test"):
            raise SettingsError("APP_ENV must be development, production or test")
        if not 300 <= self.access_token_ttl <= 3600:
            raise SettingsError("ACCESS_TOKEN_TTL must be between 300 and 3600 seconds")
        if self.production and len(self.secret_key.reveal().encode()) < MIN_SECRET_BYTES:
            raise SettingsError(f"SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes in production")
        if any(o in ("*", "null") or "://" not in o for o in self.allowed_origins):
            raise SettingsError("ALLOWED_ORIGINS must list explicit origins such as https://app.example.com")
        _check_limits(self)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, secret_file: Path = DEFAULT_SECRET_FILE
    ) -> Settings:
        """Read the settings from `env` (default: `os.environ` plus a `.env` file)."""
        if env is None:
            env = _environment_with_dotenv()
        app_env = env.get("APP_ENV", "development") or "development"
        raw_secret = env.get("SECRET_KEY", "")
        if not raw_secret:
            if app_env == "production":
                raise SettingsError(
                    "SECRET_KEY is required in production (at least 32 bytes; "
                    "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
                )
            raw_secret = _development_secret(secret_file)
        elif app_env == "production" and len(raw_secret.encode()) < MIN_SECRET_BYTES:
            raise SettingsError(f"SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes in production")
        database_url = env.get("DATABASE_URL") or "sqlite://gatehouse.db"
        _check_database_url(database_url)
        redis_url = env.get("REDIS_URL") or None
        if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError("REDIS_URL must start with redis://, rediss:// or unix://")
        schemes = _csv(env.get("AUTH_SCHEMES", ",".join(ALL_SCHEMES)))
        return cls(
            secret_key=Secret(raw_secret),
            previous_secret_keys=tuple(Secret(k) for k in _csv(env.get("PREVIOUS_SECRET_KEYS", ""))),
            database_url=database_url,
            redis_url=redis_url,
            app_env=app_env,
            bcrypt_rounds=_int(env, "BCRYPT_ROUNDS", 12, 4, 16),
            allowed_origins=tuple(o.rstrip("/") for o in _csv(env.get("ALLOWED_ORIGINS", ""))),
            host=env.get("HOST", "127.0.0.1") or "127.0.0.1",
            port=_int(env, "PORT", 8000, 1, 65535),
            trusted_proxies=_csv(env.get("TRUSTED_PROXIES", "127.0.0.1")),
            auth_schemes=schemes,
            access_token_ttl=_int(env, "ACCESS_TOKEN_TTL", 900, 300, 3600),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024),
            db_timeout=float(_int(env, "DB_TIMEOUT", 5, 1, 120)),
            identity_cache=_flag(env, "IDENTITY_CACHE", True),
            # Unset or empty: keep the default.
            login_limit_per_account=env.get("LOGIN_LIMIT_PER_ACCOUNT") or cls.login_limit_per_account,
            login_limit_per_ip=env.get("LOGIN_LIMIT_PER_IP") or cls.login_limit_per_ip,
            register_limit_per_ip=env.get("REGISTER_LIMIT_PER_IP") or cls.register_limit_per_ip,
            refresh_limit_per_ip=env.get("REFRESH_LIMIT_PER_IP") or cls.refresh_limit_per_ip,
        )


_LIMIT_VARIABLES = (
    "LOGIN_LIMIT_PER_ACCOUNT",
    "LOGIN_LIMIT_PER_IP",
    "REGISTER_LIMIT_PER_IP",
    "REFRESH_LIMIT_PER_IP",
)


def _check_limits(settings: Settings) -> None:
    from limits import parse_many

    for name in _LIMIT_VARIABLES:
        value = getattr(settings, name.lower())
        try:
            parse_many(value)
        except ValueError:
            raise SettingsError(
                f"{name} must be in `limits` notation such as '5/minute;20/15 minutes', got {value!r}"
            ) from None


def _check_database_url(url: str) -> None:
    known = ("sqlite://", "postgres://", "postgresql://", "asyncpg://", "psycopg://")
    if not url.startswith(known):
        raise SettingsError(
            "DATABASE_URL must be a Tortoise URL such as sqlite://gatehouse.db or "
            "postgres://user@host:5432/db"
        )


def _environment_with_dotenv() -> dict[str, str]:
    from dotenv import dotenv_values

    merged = {k: v for k, v in dotenv_values(".env").items() if v is not None}
    merged.update(os.environ)  # the real environment wins over the file
    return merged


def _development_secret(path: Path) -> str:
    """A key generated once and kept in a local file, so restarts keep sessions valid."""
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(48)
    path.write_text(value + "\n")
    path.chmod(0o600)
    logger.warning(
        "SECRET_KEY is not set: generated a development key in %s. Set SECRET_KEY in production.",
        path,
    )
    return value
