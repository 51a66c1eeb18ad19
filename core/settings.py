"""Settings, read once from the environment (and a `.env` file) at start-up.

Nothing else in the code base reads `os.environ`: the `Settings` object is built by
`Settings.from_env()` in `main.py` (or by a test) and passed in explicitly.

Reading is Starlette's `Config`: the environment first, then `.env` as Starlette reads it
(`NAME=value` lines, `#` comment lines, one pair of matching quotes stripped; no
`export`, no comments after a value, no `${...}` expansion). Casts turn the text into
values and every refusal names its variable.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import SplitResult, urlsplit

from starlette.config import Config

from core.hosts import ascii_host

logger = logging.getLogger("gatehouse.settings")

ALL_SCHEMES = ("session", "jwt", "token", "basic")
GRAPHQL_EXECUTORS = ("compiled", "graphql-core")
PERSISTED_QUERY_MODES = ("auto", "only", "off")
# Access-token signatures (contract section 9): Ed25519, P-256, or HMAC under SECRET_KEY.
JWT_ALGORITHMS = ("EdDSA", "ES256", "HS256")
MIN_SECRET_BYTES = 32
# A signing key must also hold this many different characters: any generated key does
# (a 32-character hex key misses it with odds of about 4 in 10^8), a typed pattern does not.
MIN_SECRET_DISTINCT_CHARACTERS = 8
# Words of sample configurations, looked for in the key lower-cased without punctuation.
SECRET_PLACEHOLDERS = (
    "changeme", "changethis", "replaceme", "yoursecret", "placeholder", "insecure", "example",
    "password",
)  # fmt: skip
# bcrypt's cost doubles with each round: 10 is OWASP's floor and about 60 ms a hash on a
# current core, so a stolen hash table costs an attacker 64 times what it does at 4.
MIN_BCRYPT_ROUNDS_IN_PRODUCTION = 10
# Who the server answers as when ALLOWED_HOSTS is unset and HOST is a loopback or
# wildcard address (hosts are matched without their port).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_WILDCARD_ADDRESSES = ("0.0.0.0", "::", "")  # noqa: S104 - compared with HOST, never bound
DEFAULT_SECRET_FILE = Path(".secret_key")


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


class Secret:
    """A string that never shows itself in `repr()`, `str()` or logs.

    Not Starlette's `Secret`: that one hides in `repr()` only and gives its value to
    `str()`, so an f-string or a `%s` in a log line would print the key; it also compares
    by identity. This one is read with `reveal()` alone and compares in constant time.
    """

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


@dataclass(frozen=True)
class MailServer:
    """Where mail goes (`MAIL_URL`): `console` (the log), or an SMTP server.

    `smtp://user:pass@host:port` upgrades with STARTTLS when the server offers it (port
    587 by default); `smtps://` speaks TLS from the first byte (port 465 by default).
    The password is a `Secret`, so `repr()` never shows it.
    """

    scheme: str = "console"  # console, smtp or smtps
    host: str = ""
    port: int = 0
    username: str | None = None
    password: Secret | None = None

    @property
    def console(self) -> bool:
        """True when mails are written to the log instead of being sent."""
        return self.scheme == "console"

    def __repr__(self) -> str:  # never the password, nor the user name
        if self.console:
            return "MailServer('console')"
        login = "***@" if self.username else ""
        return f"MailServer('{self.scheme}://{login}{self.host}:{self.port}')"

    __str__ = __repr__


_MAIL_DEFAULT_PORTS = {"smtp": 587, "smtps": 465}
MAIL_URL_SHAPE = "console, smtp://user:pass@host:port or smtps://user:pass@host:port"


def _split_url(value: str, refusal: str) -> tuple[SplitResult, int | None]:
    """`value` split, with its port; a `SettingsError` saying `refusal` when it does not
    parse (a bad port included), which must never quote a password."""
    try:
        parts = urlsplit(value)
        return parts, parts.port
    except ValueError:
        raise SettingsError(refusal) from None


def parse_mail_url(raw: str) -> MailServer:
    """`MAIL_URL` as a `MailServer`; a `SettingsError` naming MAIL_URL (never its password)."""
    from urllib.parse import unquote

    value = raw.strip()
    if value.lower() == "console":
        return MailServer()
    parts, port = _split_url(value, f"MAIL_URL must be {MAIL_URL_SHAPE}")
    scheme = parts.scheme.lower()
    if scheme not in _MAIL_DEFAULT_PORTS or not parts.hostname:
        raise SettingsError(f"MAIL_URL must be {MAIL_URL_SHAPE}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SettingsError(f"MAIL_URL takes no path, query or fragment: {MAIL_URL_SHAPE}")
    if parts.password is not None and not parts.username:
        raise SettingsError("MAIL_URL has a password without a user name")
    return MailServer(
        scheme=scheme,
        host=parts.hostname,
        port=port or _MAIL_DEFAULT_PORTS[scheme],
        username=unquote(parts.username) if parts.username else None,
        password=Secret(unquote(parts.password)) if parts.password else None,
    )


# -- Sign-in with other OpenID providers (contract section 10; docs/FEDERATION.md) -------

# A provider's name is part of its callback's path (`/auth/callback/{name}`).
PROVIDER_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
DEFAULT_OIDC_SCOPES = ("openid", "email", "profile")
_PROVIDER_KEYS = frozenset({"name", "issuer", "client_id", "client_secret", "scopes", "mobile_client_ids"})
_TRUSTED_ISSUER_KEYS = frozenset({"issuer", "audience", "jwks_uri"})
_TEXT_MAX = 255  # issuers, client ids, audiences: what the database columns hold


@dataclass(frozen=True)
class OidcProviderSettings:
    """One entry of `OIDC_PROVIDERS`: an OpenID provider users may sign in with.

    `name` names it in the API (`beginExternalLogin(provider: ...)`) and in its callback
    (`/auth/callback/{name}`); its metadata and keys are read from `issuer`.
    `client_secret` is a `Secret`, absent for a public client (PKCE alone);
    `mobile_client_ids` are the client ids of native apps whose ID tokens
    `loginWithIdToken` accepts besides those of `client_id`.
    """

    name: str
    issuer: str
    client_id: str
    client_secret: Secret | None = None
    scopes: tuple[str, ...] = DEFAULT_OIDC_SCOPES
    mobile_client_ids: tuple[str, ...] = ()

    @property
    def audiences(self) -> tuple[str, ...]:
        """The `aud` values an ID token for this deployment may carry (mobile sign-in)."""
        return (self.client_id, *self.mobile_client_ids)


@dataclass(frozen=True)
class TrustedIssuerSettings:
    """One entry of `TRUSTED_ISSUERS`: an issuer whose JWTs for `audience` are bearer
    credentials of the users linked to their `sub`; its keys come from `jwks_uri`, else
    from its discovery document."""

    issuer: str
    audience: str
    jwks_uri: str | None = None


def _json_entries(variable: str, raw: str, keys: frozenset[str]) -> list[dict[str, Any]]:
    import json

    try:
        entries = json.loads(raw)
    except ValueError:
        raise SettingsError(f"{variable} must be a JSON list of objects") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SettingsError(f"{variable} must be a JSON list of objects")
    for number, entry in enumerate(entries, start=1):
        unknown = sorted(set(entry) - keys)
        if unknown:
            raise SettingsError(
                f"{variable} entry {number} has unknown key(s) {', '.join(unknown)}; "
                f"use {', '.join(sorted(keys))}"
            )
    return entries


def _entry_text(
    variable: str, number: int, entry: dict[str, Any], key: str, required: bool = True
) -> str | None:
    value = entry.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > _TEXT_MAX or not value.isprintable():
        raise SettingsError(
            f"{variable} entry {number} needs {key!r}: a string of 1 to {_TEXT_MAX} characters"
        )
    return value.strip()


def _entry_list(variable: str, number: int, entry: dict[str, Any], key: str) -> tuple[str, ...] | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v and v.isprintable() for v in value):
        raise SettingsError(f"{variable} entry {number}: {key!r} must be a list of strings")
    return tuple(dict.fromkeys(value))


def _provider_url(variable: str, number: int, key: str, url: str, production: bool) -> str:
    """An issuer or key URL: https, or plain http to a loopback address outside production
    (a provider on the same machine, as in the tests); no query, fragment or user."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        host, parts = "", urlsplit("")
    loopback = host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")
    plain_allowed = parts.scheme == "http" and loopback and not production
    if (
        not host
        or parts.query
        or parts.fragment
        or parts.username
        or not (parts.scheme == "https" or plain_allowed)
    ):
        raise SettingsError(
            f"{variable} entry {number}: {key!r} must be an https URL without query or fragment "
            f"(plain http only to a loopback address outside production), got {url!r}"
        )
    return url


def parse_oidc_providers(raw: str, production: bool = False) -> tuple[OidcProviderSettings, ...]:
    """`OIDC_PROVIDERS` (a JSON list of `{"name", "issuer", "client_id", "client_secret"?,
    "scopes"?, "mobile_client_ids"?}`); every refusal names the variable and the entry,
    never a client secret."""
    variable = "OIDC_PROVIDERS"
    providers: list[OidcProviderSettings] = []
    for number, entry in enumerate(_json_entries(variable, raw, _PROVIDER_KEYS), start=1):
        name = _entry_text(variable, number, entry, "name") or ""
        if not PROVIDER_NAME_PATTERN.fullmatch(name):
            raise SettingsError(
                f"{variable} entry {number}: 'name' must be 1 to 32 of a-z, 0-9, '_' and '-' "
                f"(it is part of the callback URL), got {name!r}"
            )
        issuer = _provider_url(
            variable, number, "issuer", _entry_text(variable, number, entry, "issuer") or "", production
        )
        client_id = _entry_text(variable, number, entry, "client_id") or ""
        secret = entry.get("client_secret")
        if secret is not None and (not isinstance(secret, str) or not secret):
            raise SettingsError(f"{variable} entry {number}: 'client_secret' must be a non-empty string")
        scopes = _entry_list(variable, number, entry, "scopes") or DEFAULT_OIDC_SCOPES
        if "openid" not in scopes:
            scopes = ("openid", *scopes)
        providers.append(
            OidcProviderSettings(
                name=name,
                issuer=issuer,
                client_id=client_id,
                client_secret=Secret(secret) if secret else None,
                scopes=scopes,
                mobile_client_ids=_entry_list(variable, number, entry, "mobile_client_ids") or (),
            )
        )
    names = [p.name for p in providers]
    if repeated := sorted({n for n in names if names.count(n) > 1}):
        raise SettingsError(f"{variable} names {', '.join(repeated)} more than once")
    return tuple(providers)


def parse_trusted_issuers(raw: str, production: bool = False) -> tuple[TrustedIssuerSettings, ...]:
    """`TRUSTED_ISSUERS` (a JSON list of `{"issuer", "audience", "jwks_uri"?}`); every
    refusal names the variable and the entry."""
    variable = "TRUSTED_ISSUERS"
    issuers: list[TrustedIssuerSettings] = []
    for number, entry in enumerate(_json_entries(variable, raw, _TRUSTED_ISSUER_KEYS), start=1):
        issuer = _provider_url(
            variable, number, "issuer", _entry_text(variable, number, entry, "issuer") or "", production
        )
        jwks_uri = _entry_text(variable, number, entry, "jwks_uri", required=False)
        issuers.append(
            TrustedIssuerSettings(
                issuer=issuer,
                audience=_entry_text(variable, number, entry, "audience") or "",
                jwks_uri=_provider_url(variable, number, "jwks_uri", jwks_uri, production)
                if jwks_uri
                else None,
            )
        )
    named = [i.issuer for i in issuers]
    if repeated := sorted({n for n in named if named.count(n) > 1}):
        raise SettingsError(f"{variable} lists {', '.join(repeated)} more than once")
    return tuple(issuers)


def _check_public_url(url: str) -> str:
    """`PUBLIC_URL` without a trailing slash; it must be an http(s) origin, maybe with a path."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise SettingsError(
            f"PUBLIC_URL must be the server's public base URL such as https://auth.example.com, got {url!r}"
        )
    return url.rstrip("/")


T = TypeVar("T")
_ON = ("1", "true", "on", "yes")
_OFF = ("0", "false", "off", "no")


def _comma_list(raw: str) -> tuple[str, ...]:
    """`a, b,,c` as `("a", "b", "c")`.

    Not Starlette's `CommaSeparatedStrings`: it splits with `shlex`, so a `#` ends the
    list (`a#b,c` is `["a"]`), a backslash vanishes and a lone quote is an error; a
    secret key in `PREVIOUS_SECRET_KEYS` may hold any of them, and a list cut short at
    `#` would hide a bad entry instead of refusing it.
    """
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _on_off(raw: str) -> bool | None:
    value = raw.strip().lower()
    if not value:
        return None
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise ValueError(value)


def _read(config: Config, name: str, cast: Callable[[str], T], problem: str) -> T | None:
    """`name` through `cast`; None when unset or empty (the caller's default). A value
    `cast` refuses is a `SettingsError`: "`name` `problem`, got 'value'"."""
    try:
        return config(name, cast=lambda raw: cast(raw) if raw != "" else None, default=None)
    except ValueError:  # Starlette's own message names the cast, not what the value must be
        raise SettingsError(f"{name} {problem}, got {_shown(config(name), cast)!r}") from None


def _shown(raw: str, cast: Callable[[str], Any]) -> str:
    return raw.strip().lower() if cast is _on_off else raw


def _flag(config: Config, name: str) -> bool | None:
    return _read(config, name, _on_off, "must be on or off")


def _int(config: Config, name: str, default: int, minimum: int, maximum: int) -> int:
    value = _read(config, name, int, "must be a whole number")
    if value is None:
        return default
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def _text(config: Config, name: str, default: str) -> str:
    """The variable's text; unset or empty: `default`."""
    return config(name, default="") or default


def _list(config: Config, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    """A comma-separated list; unset: `default`, set but empty: an empty list."""
    value = config(name, cast=_comma_list, default=None)
    return default if value is None else value


def _config(env: Mapping[str, str] | None) -> Config:
    if env is not None:
        return Config(environ=env)
    dotenv = Path(".env")
    # Starlette warns about a missing file; most deployments have none.
    return Config(env_file=dotenv if dotenv.is_file() else None, environ=os.environ)


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
    # Host names (no port) requests may carry in `Host`; empty: what `served_hosts` derives.
    allowed_hosts: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8000
    trusted_proxies: tuple[str, ...] = ("127.0.0.1",)
    auth_schemes: tuple[str, ...] = ALL_SCHEMES
    jwt_issuer: str = "gatehouse"
    jwt_audience: str = "gatehouse"
    # `EdDSA` (Ed25519) or `ES256` (P-256): key pairs kept in the database, published at
    # /.well-known/jwks.json; `HS256`: keys derived from SECRET_KEY and PREVIOUS_SECRET_KEYS.
    jwt_algorithm: str = "EdDSA"
    # How often each instance reloads the signing keys from the database (rotation).
    jwt_keys_reload_interval: int = 30  # seconds, at most 60
    # Hasura's `https://hasura.io/jwt/claims` object in access tokens (HASURA_CLAIMS).
    hasura_claims: bool = False
    access_token_ttl: int = 900  # 15 minutes, in seconds
    refresh_token_ttl: int = 30 * 24 * 3600  # 30 days, in seconds
    # A refresh-token family's absolute lifetime from its sign-in; rotation never extends it.
    refresh_family_max_age: int = 90 * 24 * 3600  # 90 days, in seconds
    session_idle_timeout: int = 2 * 24 * 3600  # 2 days, in seconds
    session_absolute_timeout: int = 14 * 24 * 3600  # 14 days, in seconds
    api_token_max_days: int = 366
    # How often last-used timestamps may be written; reads in between write nothing.
    last_used_write_interval: int = 60  # seconds
    basic_cache_ttl: int = 60  # seconds a verified Basic header is trusted
    # Keep verified credentials in memory, revalidated by generation (auth/identity_cache.py).
    identity_cache: bool = True
    # Access tokens as compact JWE (`dir`, `A256GCM`) around the signed JWT, opaque to
    # clients (auth/token_encryption.py); off: the signed JWT itself.
    access_token_encryption: bool = False
    max_body_bytes: int = 1024 * 1024  # 1 MiB
    # Operations a WebSocket may run at once (contract section 13).
    max_subscriptions_per_socket: int = 20
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2000
    # `limits` notation; several windows (";"-separated) make waits grow with repeated
    # failures, never past the longest window, so no account is locked for good.
    login_limit_per_account: str = "5/minute;10/5 minutes;20/15 minutes"
    login_limit_per_ip: str = "30/minute"
    register_limit_per_ip: str = "10/minute;30/hour"  # slows address harvesting (docs/SECURITY.md)
    refresh_limit_per_ip: str = "120/minute"
    # `POST /oauth/introspect` calls per calling token (web/introspect.py).
    introspect_limit: str = "600/minute"
    # Per-IP limits count an IPv6 client by its network of this many bits (core/client.py).
    ipv6_rate_limit_prefix: int = 64
    db_timeout: float = 5.0  # seconds before a database call is abandoned
    # Apply pending migrations at start (MIGRATE_ON_START); `None`: on, except in
    # production on a server database (`migrates_on_start`).
    migrate_on_start: bool | None = None
    # `compiled` (schema/engine/compiled.py) or `graphql-core`: both give the same answers.
    graphql_executor: str = "compiled"
    # `auto`: Apollo's automatic persisted queries; `only`: the documents of
    # `persisted_queries_file` and nothing else; `off`: neither.
    persisted_queries: str = "auto"
    persisted_queries_file: str | None = None
    # One line per request (method, path, status, time); `None`: on except in production.
    access_log: bool | None = None
    # `GET /metrics` in Prometheus' text format (web/metrics.py); off: no route, no middleware.
    metrics: bool = False
    # `GET /graphql/schema.graphql`: on (development: anyone; production: admins), or off.
    schema_endpoint: bool = True
    # A team's importable modules (`SCHEMA_MODULES`), merged into the schema and the
    # database by schema/modules.py: here only their spelling is checked.
    schema_modules: tuple[str, ...] = ()
    # Account recovery and email (contract section 11; services/mail.py, services/account_mail.py).
    mail_server: MailServer = MailServer()
    mail_from: str = "gatehouse@localhost"
    # The base of links in mails; `None`: http://HOST:PORT (never the request's Host header).
    public_url: str | None = None
    mail_timeout: float = 10.0  # seconds an SMTP connection may take for each step
    mail_limit_per_address: str = "3/hour"
    mail_limit_per_ip: str = "20/hour"
    # On: login, register and Basic wait until the account's email address is verified.
    require_verified_email: bool = False
    # OpenID providers users may sign in with (OIDC_PROVIDERS; auth/federation/).
    oidc_providers: tuple[OidcProviderSettings, ...] = ()
    # Issuers whose JWTs are bearer credentials of linked users (TRUSTED_ISSUERS).
    trusted_issuers: tuple[TrustedIssuerSettings, ...] = ()
    # Seconds a provider's discovery document, keys or token endpoint may take (OIDC_TIMEOUT).
    oidc_timeout: float = 10.0

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

    def served_hosts(self) -> tuple[str, ...]:
        """The names a request's `Host` may carry (matched without its port).

        `ALLOWED_HOSTS` when set; otherwise the loopback names when `HOST` is a loopback
        or wildcard address (else `HOST` itself), plus the host of each `ALLOWED_ORIGINS`
        entry. IPv6 addresses are in brackets, as in a `Host` header.
        """
        if self.allowed_hosts:
            return self.allowed_hosts
        listen = self.host.strip().strip("[]").lower()
        if _listens_on_loopback(listen) or listen in _WILDCARD_ADDRESSES:
            names = list(LOOPBACK_HOSTS)
        else:
            names = [_spelled("HOST", listen)]
        for origin in self.allowed_origins:  # already spelled as browsers send them
            hostname = urlsplit(origin).hostname
            if hostname:
                names.append(ascii_host(hostname))
        return tuple(dict.fromkeys(names))

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
        if any(o in ("*", "null") or "://" not in o for o in self.allowed_origins):
            raise SettingsError("ALLOWED_ORIGINS must list explicit origins such as https://app.example.com")
        # Kept as browsers send them (`Host`, `Origin`), so comparing text compares names.
        object.__setattr__(self, "allowed_origins", tuple(_browser_origin(o) for o in self.allowed_origins))
        _check_allowed_hosts(self.allowed_hosts)
        spelled = tuple(h if h == "*" else _spelled("ALLOWED_HOSTS", h) for h in self.allowed_hosts)
        object.__setattr__(self, "allowed_hosts", spelled)
        self.served_hosts()  # a HOST the default names must have a spelling too
        from core.client import trusted_proxies_problem

        # Parsed first: the production checks count the networks it builds.
        if problem := trusted_proxies_problem(self.trusted_proxies):
            raise SettingsError(problem)
        if self.production:
            _refuse_weak_production_values(self)
        _check_limits(self)
        if not 32 <= self.ipv6_rate_limit_prefix <= 128:
            raise SettingsError("IPV6_RATE_LIMIT_PREFIX must be between 32 and 128")
        if self.graphql_executor not in GRAPHQL_EXECUTORS:
            raise SettingsError(f"GRAPHQL_EXECUTOR must be one of {', '.join(GRAPHQL_EXECUTORS)}")
        if self.persisted_queries not in PERSISTED_QUERY_MODES:
            raise SettingsError(f"PERSISTED_QUERIES must be one of {', '.join(PERSISTED_QUERY_MODES)}")
        if self.persisted_queries == "only" and not self.persisted_queries_file:
            raise SettingsError("PERSISTED_QUERIES=only needs PERSISTED_QUERIES_FILE (a JSON manifest)")
        _check_schema_modules(self.schema_modules)
        if self.jwt_algorithm not in JWT_ALGORITHMS:
            raise SettingsError(f"JWT_ALGORITHM must be one of {', '.join(JWT_ALGORITHMS)}")
        if not 1 <= self.jwt_keys_reload_interval <= 60:
            raise SettingsError("JWT_KEYS_RELOAD_INTERVAL must be between 1 and 60 seconds")
        if any(t.issuer == self.jwt_issuer for t in self.trusted_issuers):
            raise SettingsError("TRUSTED_ISSUERS may not list Gatehouse's own JWT_ISSUER")
        _check_mail(self)

    @property
    def link_base(self) -> str:
        """Where links in mails point: `PUBLIC_URL`, else this server's own address (a
        wildcard `HOST` as 127.0.0.1); never the Host header of a request."""
        if self.public_url:
            return self.public_url
        host = self.host.strip().strip("[]")
        host = "127.0.0.1" if host in _WILDCARD_ADDRESSES else host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def migrates_on_start(self) -> bool:
        """Whether start-up applies pending migrations: `MIGRATE_ON_START`, else on except in
        production on PostgreSQL, where migrating is a release step (`python main.py
        migrate`). The embedded SQLite database belongs to the server that opens it, and
        is migrated at start in production too unless MIGRATE_ON_START=off."""
        if self.migrate_on_start is not None:
            return self.migrate_on_start
        return not self.production or self.database_url.startswith("sqlite://")

    @property
    def access_log_on(self) -> bool:
        """Whether each request is logged: `ACCESS_LOG`, else on outside production."""
        return (not self.production) if self.access_log is None else self.access_log

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, secret_file: Path = DEFAULT_SECRET_FILE
    ) -> Settings:
        """Read the settings from `env` (default: `os.environ`, then a `.env` file)."""
        config = _config(env)
        app_env = _text(config, "APP_ENV", "development")
        raw_secret = _text(config, "SECRET_KEY", "")
        if not raw_secret:
            if app_env == "production":
                raise SettingsError(
                    "SECRET_KEY is required in production (at least 32 bytes; "
                    "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
                )
            raw_secret = _development_secret(secret_file)
        elif app_env == "production" and len(raw_secret.encode()) < MIN_SECRET_BYTES:
            raise SettingsError(f"SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes in production")
        database_url = _text(config, "DATABASE_URL", "sqlite://gatehouse.db")
        _check_database_url(database_url)
        redis_url = _text(config, "REDIS_URL", "") or None
        if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError("REDIS_URL must start with redis://, rediss:// or unix://")
        identity_cache = _flag(config, "IDENTITY_CACHE")
        production = app_env == "production"
        settings = cls(
            secret_key=Secret(raw_secret),
            previous_secret_keys=tuple(Secret(k) for k in _list(config, "PREVIOUS_SECRET_KEYS")),
            database_url=database_url,
            redis_url=redis_url,
            app_env=app_env,
            bcrypt_rounds=_int(config, "BCRYPT_ROUNDS", 12, 4, 16),
            allowed_origins=tuple(o.rstrip("/") for o in _list(config, "ALLOWED_ORIGINS")),
            allowed_hosts=_list(config, "ALLOWED_HOSTS"),
            host=_text(config, "HOST", "127.0.0.1"),
            port=_int(config, "PORT", 8000, 1, 65535),
            trusted_proxies=_list(config, "TRUSTED_PROXIES", cls.trusted_proxies),
            auth_schemes=_list(config, "AUTH_SCHEMES", ALL_SCHEMES),
            access_token_ttl=_int(config, "ACCESS_TOKEN_TTL", 900, 300, 3600),
            refresh_family_max_age=_int(config, "REFRESH_FAMILY_MAX_AGE", 90, 1, 365) * 24 * 3600,
            max_body_bytes=_int(config, "MAX_BODY_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024),
            max_subscriptions_per_socket=_int(config, "MAX_SUBSCRIPTIONS_PER_SOCKET", 20, 1, 1000),
            db_timeout=float(_int(config, "DB_TIMEOUT", 5, 1, 120)),
            identity_cache=True if identity_cache is None else identity_cache,
            access_token_encryption=_flag(config, "ACCESS_TOKEN_ENCRYPTION") is True,
            login_limit_per_account=_text(config, "LOGIN_LIMIT_PER_ACCOUNT", cls.login_limit_per_account),
            login_limit_per_ip=_text(config, "LOGIN_LIMIT_PER_IP", cls.login_limit_per_ip),
            register_limit_per_ip=_text(config, "REGISTER_LIMIT_PER_IP", cls.register_limit_per_ip),
            refresh_limit_per_ip=_text(config, "REFRESH_LIMIT_PER_IP", cls.refresh_limit_per_ip),
            introspect_limit=_text(config, "INTROSPECT_LIMIT", cls.introspect_limit),
            ipv6_rate_limit_prefix=_int(config, "IPV6_RATE_LIMIT_PREFIX", 64, 32, 128),
            graphql_executor=_text(config, "GRAPHQL_EXECUTOR", "compiled").strip().lower(),
            persisted_queries=_text(config, "PERSISTED_QUERIES", "auto").strip().lower(),
            persisted_queries_file=_text(config, "PERSISTED_QUERIES_FILE", "") or None,
            access_log=_flag(config, "ACCESS_LOG"),
            metrics=_flag(config, "METRICS") is True,
            migrate_on_start=_flag(config, "MIGRATE_ON_START"),
            schema_endpoint=_flag(config, "SCHEMA_ENDPOINT") is not False,
            schema_modules=_list(config, "SCHEMA_MODULES"),
            jwt_issuer=_text(config, "JWT_ISSUER", "gatehouse"),
            jwt_audience=_text(config, "JWT_AUDIENCE", "gatehouse"),
            jwt_algorithm=_jwt_algorithm(_text(config, "JWT_ALGORITHM", "EdDSA")),
            jwt_keys_reload_interval=_int(config, "JWT_KEYS_RELOAD_INTERVAL", 30, 1, 60),
            hasura_claims=_flag(config, "HASURA_CLAIMS") is True,
            mail_server=parse_mail_url(_text(config, "MAIL_URL", "console")),
            mail_from=_text(config, "MAIL_FROM", cls.mail_from).strip(),
            public_url=_text(config, "PUBLIC_URL", "") or None,
            mail_timeout=float(_int(config, "MAIL_TIMEOUT", 10, 1, 120)),
            mail_limit_per_address=_text(config, "MAIL_LIMIT_PER_ADDRESS", cls.mail_limit_per_address),
            mail_limit_per_ip=_text(config, "MAIL_LIMIT_PER_IP", cls.mail_limit_per_ip),
            require_verified_email=_flag(config, "REQUIRE_VERIFIED_EMAIL") is True,
            oidc_providers=parse_oidc_providers(_text(config, "OIDC_PROVIDERS", "[]"), production),
            trusted_issuers=parse_trusted_issuers(_text(config, "TRUSTED_ISSUERS", "[]"), production),
            oidc_timeout=float(_int(config, "OIDC_TIMEOUT", 10, 1, 60)),
        )
        _check_at_start_up(settings)
        return settings

    @staticmethod
    def schema_modules_from_env(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
        """`SCHEMA_MODULES` alone, read as `from_env` reads it: for Tortoise's own command
        line (`main.TORTOISE_ORM`), which needs the models but no key or database."""
        modules = _list(_config(env), "SCHEMA_MODULES")
        _check_schema_modules(modules)
        return modules


GENERATE_HINT = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"


def secret_weakness(value: str) -> str | None:
    """Why `value` is too weak to sign tokens, or `None`.

    Four rules, each easy to check by eye: at least 32 bytes; not one pattern repeated
    (no period of half its length or less, so no repeated character either); at least
    8 different characters; none of the words sample configurations use ("changeme",
    "placeholder", ...). A key from `secrets.token_urlsafe(32)` or `token_hex(16)` or
    longer passes (the odds against are below one in 10^7).
    """
    if len(value.encode()) < MIN_SECRET_BYTES:
        return f"it is shorter than {MIN_SECRET_BYTES} bytes"
    if any(value[period:] == value[:-period] for period in range(1, len(value) // 2 + 1)):
        return "it repeats a short pattern"
    if len(set(value)) < MIN_SECRET_DISTINCT_CHARACTERS:
        return f"it has fewer than {MIN_SECRET_DISTINCT_CHARACTERS} different characters"
    letters = re.sub(r"[^a-z0-9]", "", value.lower())
    if any(word in letters for word in SECRET_PLACEHOLDERS):
        return "it looks like a placeholder from a sample configuration"
    return None


def _weak_keys(settings: Settings) -> Iterator[str]:
    """A sentence for each weak key, naming its variable, never showing the key."""
    reason = secret_weakness(settings.secret_key.reveal())
    if reason:
        yield f"SECRET_KEY is too weak for production ({reason}); {GENERATE_HINT}"
    for number, key in enumerate(settings.previous_secret_keys, start=1):
        reason = secret_weakness(key.reveal())
        if reason:
            yield f"PREVIOUS_SECRET_KEYS entry {number} is too weak for production ({reason}); remove it"


# Who a trusted proxy may be without handing the internet its `X-Forwarded-For`: at most
# this many public addresses together, so one /8 of public IPv4 or one /32 of IPv6 at most.
MAX_TRUSTED_PUBLIC_IPV4 = 2**24
MAX_TRUSTED_PUBLIC_IPV6 = 2**96
# IPv4 ranges no internet client comes from (IANA's special-purpose registry): private,
# shared (CGNAT), loopback, link-local, documentation, benchmarking, multicast, reserved.
_IPV4_NOT_PUBLIC = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/3",
    )
)  # fmt: skip
# IPv6 internet clients come from global unicast; the rest is unique-local (fc00::/7),
# link-local, multicast, loopback or reserved (and `::ffff:0:0/96` is compared as IPv4).
_IPV6_PUBLIC = ipaddress.IPv6Network("2000::/3")


def _public_ipv4(networks: list[ipaddress.IPv4Network]) -> int:
    """How many public addresses the union of `networks` holds."""
    total = 0
    for network in ipaddress.collapse_addresses(networks):
        # Two CIDR blocks are nested or apart: what they share is the smaller one, or nothing.
        size = network.num_addresses
        shared = (min(size, r.num_addresses) for r in _IPV4_NOT_PUBLIC if r.overlaps(network))
        total += size - sum(shared)
    return total


def _public_ipv6(networks: list[ipaddress.IPv6Network]) -> int:
    """How many public (global unicast) addresses the union of `networks` holds."""
    return sum(
        min(network.num_addresses, _IPV6_PUBLIC.num_addresses)
        for network in ipaddress.collapse_addresses(networks)
        if network.overlaps(_IPV6_PUBLIC)
    )


def _trusts_every_peer(entries: tuple[str, ...]) -> bool:
    """Whether `TRUSTED_PROXIES` trusts `*` or, together, more public addresses than a
    proxy tier can hold; counted on the networks `core/client.py` compares peers with."""
    from core.client import trusted_proxies

    proxies = trusted_proxies(entries)
    if proxies.everyone:
        return True
    v4 = [n for n in proxies.networks if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in proxies.networks if isinstance(n, ipaddress.IPv6Network)]
    for address in proxies.addresses:
        if isinstance(address, ipaddress.IPv4Address):
            v4.append(ipaddress.IPv4Network(address))
        else:
            v6.append(ipaddress.IPv6Network(address))
    return _public_ipv4(v4) > MAX_TRUSTED_PUBLIC_IPV4 or _public_ipv6(v6) > MAX_TRUSTED_PUBLIC_IPV6


_EVERY_PEER = (
    "TRUSTED_PROXIES trusts too much of the internet (*, 0.0.0.0/0, ::/0, ::ffff:0:0/96, or public "
    "networks together wider than an IPv4 /8 or an IPv6 /32): any client can then choose its IP for "
    "the rate limits and claim HTTPS; list the proxies' addresses or private networks"
)


def _refuse_weak_production_values(settings: Settings) -> None:
    """Production refuses keys an attacker could guess and settings that let anyone in."""
    for problem in _weak_keys(settings):
        raise SettingsError(problem)
    if _trusts_every_peer(settings.trusted_proxies):
        raise SettingsError(_EVERY_PEER)
    plain = [o for o in settings.allowed_origins if not o.lower().startswith("https://")]
    if plain:
        # Anyone on the network path of a plain-HTTP page could act with its CORS rights.
        raise SettingsError(f"ALLOWED_ORIGINS must be https:// origins in production, got {plain[0]}")
    if "*" in settings.allowed_hosts:
        raise SettingsError(
            "ALLOWED_HOSTS may not be * in production: list the server's names, "
            "such as auth.example.com or *.example.com"
        )
    if not settings.allowed_hosts and not _listens_on_loopback(settings.host):
        # Clients reach such a listener by names the server cannot guess: the derived
        # loopback names would answer every proxied request 400 while /healthz says ok.
        raise SettingsError(
            "ALLOWED_HOSTS is required in production when HOST is not a loopback address: "
            "list the names clients use in the Host header, such as auth.example.com"
        )


def _check_at_start_up(settings: Settings) -> None:
    """Checks of a deployment's environment: production refuses, development warns.

    Kept out of `__post_init__` where they concern the bcrypt cost: tests build
    production settings at cost 4 to stay fast.
    """
    rounds = settings.bcrypt_rounds
    if rounds < MIN_BCRYPT_ROUNDS_IN_PRODUCTION:
        message = (
            f"BCRYPT_ROUNDS must be at least {MIN_BCRYPT_ROUNDS_IN_PRODUCTION} in production, got "
            f"{rounds}: each round less halves what guessing a stolen password hash costs"
        )
        if settings.production:
            raise SettingsError(message)
        if settings.app_env == "development":
            logger.warning("%s", message)
    if settings.production and settings.mail_server.console:
        logger.warning(
            "MAIL_URL is console in production: mails (with their links) are written to the log "
            "and never sent; set MAIL_URL to smtp:// or smtps://"
        )
    if settings.app_env == "development":
        for problem in _weak_keys(settings):
            logger.warning("%s", problem)
        if _trusts_every_peer(settings.trusted_proxies):
            logger.warning("%s (production refuses it)", _EVERY_PEER)


def _listens_on_loopback(host: str) -> bool:
    return host.strip().strip("[]").lower() in ("127.0.0.1", "localhost", "::1")


def _spelled(variable: str, name: str) -> str:
    """`name` as browsers send it (`core/hosts.py` `ascii_host`), or a `SettingsError`."""
    try:
        return ascii_host(name)
    except ValueError as exc:
        raise SettingsError(f"{variable} has {name!r}, which browsers cannot send as a host: {exc}") from None


def _browser_origin(origin: str) -> str:
    """`origin` as browsers send it in `Origin`: scheme and host lower-case, the host in its
    IDNA form, a default port dropped (`HTTPS://Bücher.example:443` is
    `https://xn--bcher-kva.example`)."""
    parts, port = _split_url(origin, f"ALLOWED_ORIGINS has {origin!r}, which is not an origin")
    scheme = parts.scheme.lower()
    host = _spelled("ALLOWED_ORIGINS", parts.hostname or "")
    if port is not None and port != {"http": 80, "https": 443}.get(scheme):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path.rstrip('/')}"


def _check_allowed_hosts(hosts: tuple[str, ...]) -> None:
    for host in hosts:
        name = host[2:] if host.startswith("*.") else host
        if host == "*":
            continue
        bracketed = name.startswith("[") and name.endswith("]")
        if not name or "*" in name or "/" in name or (":" in name and not bracketed):
            raise SettingsError(
                "ALLOWED_HOSTS must list host names without scheme or port, such as "
                f"auth.example.com, *.example.com or [::1]; got {host!r}"
            )


_LIMIT_VARIABLES = (
    "LOGIN_LIMIT_PER_ACCOUNT",
    "LOGIN_LIMIT_PER_IP",
    "REGISTER_LIMIT_PER_IP",
    "REFRESH_LIMIT_PER_IP",
    "INTROSPECT_LIMIT",
    "MAIL_LIMIT_PER_ADDRESS",
    "MAIL_LIMIT_PER_IP",
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


# A dotted path of Python identifiers, as `importlib.import_module` takes it.
_MODULE_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _check_schema_modules(modules: tuple[str, ...]) -> None:
    """Each entry must be spelled as an importable module path, and listed once."""
    for module in modules:
        if not _MODULE_PATH.fullmatch(module):
            raise SettingsError(
                f"SCHEMA_MODULES has {module!r}, which is not a module path such as examples.notes"
            )
    repeated = sorted({m for m in modules if modules.count(m) > 1})
    if repeated:
        raise SettingsError(f"SCHEMA_MODULES lists {', '.join(repeated)} more than once")


def _check_mail(settings: Settings) -> None:
    """MAIL_FROM is an address, PUBLIC_URL a base URL; production sends links to its
    public address only (https, and set whenever real mail goes out)."""
    from email.utils import parseaddr

    if "@" not in parseaddr(settings.mail_from)[1] or any(c in settings.mail_from for c in "\r\n"):
        raise SettingsError(
            "MAIL_FROM must be an address such as Gatehouse <noreply@example.com>, "
            f"got {settings.mail_from!r}"
        )
    if settings.public_url is not None:
        object.__setattr__(settings, "public_url", _check_public_url(settings.public_url))
    if not settings.production:
        return
    if settings.public_url is None and not settings.mail_server.console:
        raise SettingsError(
            "PUBLIC_URL is required in production when MAIL_URL sends mail: links in mails must "
            "point to the server's public address, such as https://auth.example.com"
        )
    if settings.public_url is not None and not settings.public_url.startswith("https://"):
        raise SettingsError(f"PUBLIC_URL must be an https:// URL in production, got {settings.public_url}")


def _jwt_algorithm(raw: str) -> str:
    """`JWT_ALGORITHM` in its registered spelling (`eddsa` is `EdDSA`); unknown: refused
    by `Settings.__post_init__`, naming the choices."""
    spelled = {name.lower(): name for name in JWT_ALGORITHMS}
    return spelled.get(raw.strip().lower(), raw)


def _check_database_url(url: str) -> None:
    known = ("sqlite://", "postgres://", "postgresql://", "asyncpg://", "psycopg://")
    if not url.startswith(known):
        raise SettingsError(
            "DATABASE_URL must be a Tortoise URL such as sqlite://gatehouse.db or "
            "postgres://user@host:5432/db"
        )


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
