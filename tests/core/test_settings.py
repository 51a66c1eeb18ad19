"""Settings: parsed once from the environment, with messages naming the bad variable."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from core.settings import ALL_SCHEMES, MIN_SECRET_BYTES, Secret, Settings, SettingsError

GOOD_SECRET = "gY7-pQ2xL9vKm4Rz8TbW1nJc6HsDf3Ae"  # 32 bytes, not a pattern: production accepts it


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    return tmp_path / ".secret_key"


def from_env(secret_file: Path, **env: str) -> Settings:
    return Settings.from_env({"SECRET_KEY": GOOD_SECRET, **env}, secret_file=secret_file)


# -- defaults and parsing -----------------------------------------------------------


def test_defaults(secret_file):
    settings = from_env(secret_file)
    assert settings.database_url == "sqlite://gatehouse.db"
    assert settings.redis_url is None
    assert settings.app_env == "development"
    assert not settings.production
    assert settings.bcrypt_rounds == 12
    assert settings.allowed_origins == ()
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.trusted_proxies == ("127.0.0.1",)
    assert settings.auth_schemes == ALL_SCHEMES
    assert settings.access_token_ttl == 900
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.session_cookie_name == "session"
    assert settings.previous_secret_keys == ()
    assert not secret_file.exists()  # a SECRET_KEY was given: no file needed


def test_every_variable_is_parsed(secret_file):
    settings = from_env(
        secret_file,
        DATABASE_URL="postgres://app@db:5432/gatehouse",
        REDIS_URL="redis://cache:6379/1",
        PREVIOUS_SECRET_KEYS=" old-one-Jx4Vb9Qm2Lr7Tz5Wk8Ny3Pd6 , older-two-Hc1Fs8Ga5Ue2Io9Ky4Ml7Q ,",
        APP_ENV="production",
        BCRYPT_ROUNDS="10",
        ALLOWED_ORIGINS="https://app.example/, https://admin.example",
        HOST="0.0.0.0",
        ALLOWED_HOSTS="auth.example, Auth2.Example",  # required in production with HOST=0.0.0.0
        PORT="9000",
        TRUSTED_PROXIES="10.0.0.1,10.0.0.2",
        AUTH_SCHEMES="session, jwt",
        ACCESS_TOKEN_TTL="600",
        MAX_BODY_BYTES="2048",
    )
    assert settings.database_url == "postgres://app@db:5432/gatehouse"
    assert settings.redis_url == "redis://cache:6379/1"
    assert settings.previous_secret_keys == (
        Secret("old-one-Jx4Vb9Qm2Lr7Tz5Wk8Ny3Pd6"),
        Secret("older-two-Hc1Fs8Ga5Ue2Io9Ky4Ml7Q"),
    )
    assert settings.production
    assert settings.session_cookie_name == "__Host-session"
    assert settings.bcrypt_rounds == 10
    assert settings.allowed_origins == ("https://app.example", "https://admin.example")
    assert (settings.host, settings.port) == ("0.0.0.0", 9000)
    assert settings.allowed_hosts == ("auth.example", "auth2.example")
    assert settings.trusted_proxies == ("10.0.0.1", "10.0.0.2")
    assert settings.auth_schemes == ("session", "jwt")
    assert settings.access_token_ttl == 600
    assert settings.max_body_bytes == 2048
    assert settings.secret_key.reveal() == GOOD_SECRET


def test_empty_values_mean_defaults(secret_file):
    settings = from_env(secret_file, DATABASE_URL="", REDIS_URL="", BCRYPT_ROUNDS="", PORT="", APP_ENV="")
    assert settings.database_url == "sqlite://gatehouse.db"
    assert settings.redis_url is None
    assert settings.bcrypt_rounds == 12
    assert settings.port == 8000
    assert settings.app_env == "development"


@pytest.mark.parametrize(
    "url", ["sqlite://:memory:", "sqlite:///tmp/x.db", "postgres://u@h/db", "postgresql://u:p@h:5432/db"]
)
def test_tortoise_database_urls_are_accepted(secret_file, url):
    assert from_env(secret_file, DATABASE_URL=url).database_url == url


# -- SECRET_KEY ---------------------------------------------------------------------


@pytest.mark.parametrize("missing", [{}, {"SECRET_KEY": ""}])
def test_production_refuses_a_missing_secret_key(secret_file, missing):
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings.from_env({"APP_ENV": "production", **missing}, secret_file=secret_file)
    assert not secret_file.exists()  # no development key is generated in production


@pytest.mark.parametrize("short", ["x", "s" * (MIN_SECRET_BYTES - 1)])
def test_production_refuses_a_short_secret_key(secret_file, short):
    with pytest.raises(SettingsError, match="SECRET_KEY") as caught:
        Settings.from_env({"APP_ENV": "production", "SECRET_KEY": short}, secret_file=secret_file)
    assert short not in str(caught.value)


def test_secret_key_length_is_counted_in_bytes(secret_file):
    """11 different three-byte characters are 33 bytes: long enough."""
    key = "€₤₦₩₪₫₭₮₯₱₲"
    settings = Settings.from_env({"APP_ENV": "production", "SECRET_KEY": key}, secret_file=secret_file)
    assert settings.production


def test_production_accepts_a_long_enough_key(secret_file):
    settings = Settings.from_env(
        {"APP_ENV": "production", "SECRET_KEY": GOOD_SECRET}, secret_file=secret_file
    )
    assert settings.production


def test_settings_built_directly_also_refuse_a_short_production_key():
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings(secret_key=Secret("short"), app_env="production")


def test_development_accepts_a_short_key(secret_file):
    assert from_env(secret_file, SECRET_KEY="dev").secret_key.reveal() == "dev"


def test_development_secret_is_generated_once_into_a_private_file(secret_file, caplog):
    with caplog.at_level(logging.WARNING, logger="gatehouse.settings"):
        first = Settings.from_env({}, secret_file=secret_file)
    assert secret_file.exists()
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert len(first.secret_key.reveal().encode()) >= MIN_SECRET_BYTES
    assert secret_file.read_text().strip() == first.secret_key.reveal()
    warnings = [r for r in caplog.records if "SECRET_KEY" in r.getMessage()]
    assert len(warnings) == 1
    assert first.secret_key.reveal() not in caplog.text

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gatehouse.settings"):
        second = Settings.from_env({}, secret_file=secret_file)
    assert second.secret_key == first.secret_key
    assert not [r for r in caplog.records if "generated" in r.getMessage()]


def test_development_secret_files_differ_between_checkouts(tmp_path):
    first = Settings.from_env({}, secret_file=tmp_path / "a")
    second = Settings.from_env({}, secret_file=tmp_path / "b")
    assert first.secret_key != second.secret_key


# -- Secret -------------------------------------------------------------------------


def test_secret_never_shows_itself():
    secret = Secret("hunter2-is-my-password")
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", repr([secret]), repr({"k": secret})):
        assert "hunter2" not in text
    assert secret.reveal() == "hunter2-is-my-password"


def test_settings_repr_hides_every_secret(secret_file):
    settings = from_env(secret_file, PREVIOUS_SECRET_KEYS="previous-secret-value")
    assert GOOD_SECRET not in repr(settings)
    assert "previous-secret-value" not in repr(settings)


def test_secret_equality_compares_values():
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"
    assert hash(Secret("a")) == hash(Secret("a"))


# -- bad values name their variable -------------------------------------------------


@pytest.mark.parametrize(
    "url", ["mysql://u@h/db", "gatehouse.db", "http://localhost/db", "redis://localhost:6379/0"]
)
def test_bad_database_url_names_the_variable(secret_file, url):
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        from_env(secret_file, DATABASE_URL=url)


@pytest.mark.parametrize("url", ["localhost:6379", "http://localhost:6379", "postgres://h/db"])
def test_bad_redis_url_names_the_variable(secret_file, url):
    with pytest.raises(SettingsError, match="REDIS_URL"):
        from_env(secret_file, REDIS_URL=url)


@pytest.mark.parametrize(
    "url", ["redis://localhost:6379/0", "rediss://cache:6380/0", "unix:///run/redis.sock"]
)
def test_redis_urls_are_accepted(secret_file, url):
    assert from_env(secret_file, REDIS_URL=url).redis_url == url


@pytest.mark.parametrize("schemes", ["session,oauth", "kerberos", "jwt,Basic2"])
def test_unknown_auth_scheme_names_the_variable_and_the_scheme(secret_file, schemes):
    with pytest.raises(SettingsError, match="AUTH_SCHEMES") as caught:
        from_env(secret_file, AUTH_SCHEMES=schemes)
    unknown = [s for s in schemes.split(",") if s not in ALL_SCHEMES]
    assert all(name in str(caught.value) for name in unknown)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BCRYPT_ROUNDS", "twelve"),
        ("BCRYPT_ROUNDS", "3"),
        ("BCRYPT_ROUNDS", "17"),
        ("PORT", "0"),
        ("PORT", "70000"),
        ("PORT", "http"),
        ("ACCESS_TOKEN_TTL", "60"),
        ("ACCESS_TOKEN_TTL", "86400"),
        ("MAX_BODY_BYTES", "-1"),
        ("MAX_BODY_BYTES", "1.5"),
    ],
)
def test_bad_numbers_name_the_variable(secret_file, name, value):
    with pytest.raises(SettingsError, match=name):
        from_env(secret_file, **{name: value})


def test_unknown_app_env_is_refused(secret_file):
    with pytest.raises(SettingsError, match="APP_ENV"):
        from_env(secret_file, APP_ENV="staging")


def test_access_token_ttl_is_at_most_an_hour():
    with pytest.raises(SettingsError, match="ACCESS_TOKEN_TTL"):
        Settings(secret_key=Secret(GOOD_SECRET), access_token_ttl=3601)


def test_trusted_proxies_take_networks_and_refuse_other_text(secret_file):
    settings = from_env(secret_file, TRUSTED_PROXIES="10.0.0.0/8, fd00::/8,127.0.0.1")
    assert settings.trusted_proxies == ("10.0.0.0/8", "fd00::/8", "127.0.0.1")
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        from_env(secret_file, TRUSTED_PROXIES="10.0.0.1,proxy.internal")


def test_ipv6_rate_limit_prefix(secret_file):
    assert from_env(secret_file).ipv6_rate_limit_prefix == 64
    assert from_env(secret_file, IPV6_RATE_LIMIT_PREFIX="48").ipv6_rate_limit_prefix == 48
    with pytest.raises(SettingsError, match="IPV6_RATE_LIMIT_PREFIX"):
        from_env(secret_file, IPV6_RATE_LIMIT_PREFIX="16")
    with pytest.raises(SettingsError, match="IPV6_RATE_LIMIT_PREFIX"):
        Settings(secret_key=Secret(GOOD_SECRET), ipv6_rate_limit_prefix=129)


# -- the process environment and .env -----------------------------------------------

VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "PREVIOUS_SECRET_KEYS",
    "APP_ENV",
    "BCRYPT_ROUNDS",
    "ALLOWED_ORIGINS",
    "HOST",
    "TRUSTED_PROXIES",
    "AUTH_SCHEMES",
    "ACCESS_TOKEN_TTL",
    "MAX_BODY_BYTES",
)


def test_environment_wins_over_dotenv(tmp_path, monkeypatch, secret_file):
    (tmp_path / ".env").write_text("PORT=7000\nHOST=10.1.1.1\nSECRET_KEY=from-dotenv-file\n")
    monkeypatch.chdir(tmp_path)
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORT", "7001")
    settings = Settings.from_env(secret_file=secret_file)
    assert settings.port == 7001
    assert settings.host == "10.1.1.1"
    assert settings.secret_key.reveal() == "from-dotenv-file"


def test_with_returns_a_changed_copy(secret_file):
    settings = from_env(secret_file)
    changed = settings.with_(port=1234)
    assert changed.port == 1234
    assert settings.port == 8000


# -- casts: flags, lists, the new fields ---------------------------------------------


@pytest.mark.parametrize(("raw", "value"), [("on", True), ("YES", True), ("1", True), ("off", False),
                                            (" False ", False), ("0", False), ("no", False)])  # fmt: skip
def test_flags_read_on_and_off(secret_file, raw, value):
    settings = from_env(secret_file, IDENTITY_CACHE=raw, ACCESS_LOG=raw)
    assert (settings.identity_cache, settings.access_log) == (value, value)


def test_unset_or_empty_flags_keep_their_default(secret_file):
    for env in ({}, {"IDENTITY_CACHE": "", "ACCESS_LOG": ""}, {"IDENTITY_CACHE": " "}):
        settings = from_env(secret_file, **env)
        assert settings.identity_cache is True
        assert settings.access_log is None and settings.access_log_on  # on outside production


@pytest.mark.parametrize("name", ["IDENTITY_CACHE", "ACCESS_LOG"])
def test_a_flag_that_is_neither_on_nor_off_names_the_variable_and_the_value(secret_file, name):
    with pytest.raises(SettingsError, match=f"{name} must be on or off, got 'maybe'"):
        from_env(secret_file, **{name: "Maybe"})


def test_a_bad_number_names_the_variable_and_the_value(secret_file):
    with pytest.raises(SettingsError, match="PORT must be a whole number, got 'http'"):
        from_env(secret_file, PORT="http")
    with pytest.raises(SettingsError, match="PORT must be between 1 and 65535, got 70000"):
        from_env(secret_file, PORT="70000")


def test_a_list_set_but_empty_is_empty(secret_file):
    """`TRUSTED_PROXIES=` trusts no proxy; only an unset variable means the default."""
    assert from_env(secret_file, TRUSTED_PROXIES="").trusted_proxies == ()
    assert from_env(secret_file, TRUSTED_PROXIES=" , ,").trusted_proxies == ()
    assert from_env(secret_file).trusted_proxies == ("127.0.0.1",)


def test_previous_keys_keep_every_character(secret_file):
    """Keys are split on commas only: `#`, quotes and backslashes are part of a key
    (a shell-style split would end the list at `#` and drop a backslash)."""
    keys = [
        "Jx4#Vb9Qm2Lr7Tz5Wk8Ny3Pd6-first",
        "it's-a-\\key-Hc1Fs8Ga5Ue2Io9Ky4Ml7Q",
        '"quoted"-key-3Rt7Yu1Io5Pa9Sd',
    ]
    settings = from_env(secret_file, PREVIOUS_SECRET_KEYS=",".join(keys))
    assert [key.reveal() for key in settings.previous_secret_keys] == keys


def test_the_engine_persisted_queries_and_access_log_are_read(secret_file, tmp_path):
    manifest = tmp_path / "queries.json"
    settings = from_env(
        secret_file,
        GRAPHQL_EXECUTOR=" GraphQL-Core ",
        PERSISTED_QUERIES="Only",
        PERSISTED_QUERIES_FILE=str(manifest),
        ACCESS_LOG="off",
    )
    assert settings.graphql_executor == "graphql-core"
    assert settings.persisted_queries == "only"
    assert settings.persisted_queries_file == str(manifest)
    assert settings.access_log is False and not settings.access_log_on
    defaults = from_env(secret_file, GRAPHQL_EXECUTOR="", PERSISTED_QUERIES="", PERSISTED_QUERIES_FILE="")
    assert (defaults.graphql_executor, defaults.persisted_queries) == ("compiled", "auto")
    assert defaults.persisted_queries_file is None
    assert not from_env(secret_file, APP_ENV="production").access_log_on


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GRAPHQL_EXECUTOR": "fast"}, "GRAPHQL_EXECUTOR must be one of compiled, graphql-core"),
        ({"PERSISTED_QUERIES": "always"}, "PERSISTED_QUERIES must be one of auto, only, off"),
        ({"PERSISTED_QUERIES": "only"}, "PERSISTED_QUERIES=only needs PERSISTED_QUERIES_FILE"),
    ],
)
def test_bad_engine_and_persisted_query_settings_are_refused(secret_file, env, message):
    with pytest.raises(SettingsError, match=message):
        from_env(secret_file, **env)


def test_dotenv_is_read_as_starlette_reads_it(tmp_path, monkeypatch, secret_file):
    """`NAME=value` lines, `#` comment lines and one pair of matching quotes; no missing-file warning."""
    monkeypatch.chdir(tmp_path)
    for name in (*VARIABLES, "PORT", "ALLOWED_HOSTS", "IDENTITY_CACHE"):
        monkeypatch.delenv(name, raising=False)
    # No .env: no warning either (warnings are errors).
    assert Settings.from_env(secret_file=secret_file).port == 8000
    (tmp_path / ".env").write_text(
        "# a comment line\n"
        "SECRET_KEY='quoted-Jx4Vb9Qm2Lr7Tz5Wk8Ny3Pd6'\n"
        'ALLOWED_HOSTS="auth.example, Other.Example"\n'
        "IDENTITY_CACHE = off\n"
        "not a pair\n"
    )
    settings = Settings.from_env(secret_file=secret_file)
    assert settings.secret_key.reveal() == "quoted-Jx4Vb9Qm2Lr7Tz5Wk8Ny3Pd6"
    assert settings.allowed_hosts == ("auth.example", "other.example")
    assert settings.identity_cache is False


# -- access-token signing (issue 13) ------------------------------------------------


def test_jwt_signing_defaults(secret_file):
    settings = from_env(secret_file)
    assert settings.jwt_algorithm == "EdDSA"
    assert settings.jwt_keys_reload_interval == 30
    assert settings.hasura_claims is False
    assert (settings.jwt_issuer, settings.jwt_audience) == ("gatehouse", "gatehouse")


@pytest.mark.parametrize(
    ("raw", "algorithm"), [("EdDSA", "EdDSA"), ("eddsa", "EdDSA"), ("es256", "ES256"), ("HS256", "HS256")]
)
def test_jwt_algorithm_is_read_in_its_registered_spelling(secret_file, raw, algorithm):
    assert from_env(secret_file, JWT_ALGORITHM=raw).jwt_algorithm == algorithm


@pytest.mark.parametrize("raw", ["RS256", "none", "HS512", "Ed25519"])
def test_other_jwt_algorithms_are_refused_naming_the_choices(secret_file, raw):
    with pytest.raises(SettingsError, match="JWT_ALGORITHM must be one of EdDSA, ES256, HS256"):
        from_env(secret_file, JWT_ALGORITHM=raw)


@pytest.mark.parametrize("raw", ["0", "61", "soon"])
def test_the_key_reload_interval_is_at_most_a_minute(secret_file, raw):
    with pytest.raises(SettingsError, match="JWT_KEYS_RELOAD_INTERVAL"):
        from_env(secret_file, JWT_KEYS_RELOAD_INTERVAL=raw)


def test_issuer_audience_and_hasura_claims_are_read(secret_file):
    settings = from_env(
        secret_file,
        JWT_ISSUER="https://auth.example.com",
        JWT_AUDIENCE="api.example.com",
        HASURA_CLAIMS="on",
        JWT_KEYS_RELOAD_INTERVAL="5",
    )
    assert settings.jwt_issuer == "https://auth.example.com"
    assert settings.jwt_audience == "api.example.com"
    assert settings.hasura_claims is True
    assert settings.jwt_keys_reload_interval == 5
