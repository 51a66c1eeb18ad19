"""Running production on weak settings: a bcrypt cost an attacker with a leaked hash
laughs at, a signing key of one repeated character or a placeholder, short retired keys,
proxies or origins that let anyone in. Start-up stops with one line naming the variable
(never its value); development warns and runs."""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import MIN_BCRYPT_ROUNDS_IN_PRODUCTION, Secret, Settings, SettingsError
from tests.helpers import TEST_SECRET

MAIN = Path(__file__).resolve().parents[2] / "main.py"
STRONG = "Jq2cVxv0m7rKp9sZ1bT4nYw8eLhA3dUf6gQiR5oNzXc"

WEAK_KEYS = {
    "one repeated character": "s" * 32,
    "one repeated multibyte character": "é" * 16,
    "a short repeated pattern": "ab" * 20,
    "repeated digits": "0123456789" * 4,
    "few distinct characters": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
    "a placeholder": "changeme-changeme-please-1234567890",
    "another placeholder": "your-secret-key-goes-here-0123456789",
    "a documentation placeholder": "replace-me-with-a-long-random-value-please",
}


def production(**env: str) -> Settings:
    return Settings.from_env({"APP_ENV": "production", "SECRET_KEY": STRONG, **env})


# -- BCRYPT_ROUNDS --------------------------------------------------------------------


@pytest.mark.parametrize("rounds", range(4, MIN_BCRYPT_ROUNDS_IN_PRODUCTION))
def test_production_refuses_a_cheap_bcrypt_cost(rounds):
    with pytest.raises(SettingsError, match="BCRYPT_ROUNDS") as caught:
        production(BCRYPT_ROUNDS=str(rounds))
    assert str(MIN_BCRYPT_ROUNDS_IN_PRODUCTION) in str(caught.value)


def test_production_accepts_the_floor_and_above():
    assert production(BCRYPT_ROUNDS="10").bcrypt_rounds == 10
    assert production().bcrypt_rounds == 12


def test_development_warns_about_a_cheap_cost_and_runs(caplog):
    with caplog.at_level(logging.WARNING, logger="gatehouse.settings"):
        settings = Settings.from_env({"SECRET_KEY": STRONG, "BCRYPT_ROUNDS": "4"})
    assert settings.bcrypt_rounds == 4
    assert any("BCRYPT_ROUNDS" in r.getMessage() for r in caplog.records)


# -- SECRET_KEY and PREVIOUS_SECRET_KEYS ---------------------------------------------------


@pytest.mark.parametrize("key", WEAK_KEYS.values(), ids=WEAK_KEYS.keys())
def test_production_refuses_a_weak_secret_key(key):
    assert len(key.encode()) >= 32  # long enough: the length rule alone let it through
    with pytest.raises(SettingsError, match="SECRET_KEY") as caught:
        Settings.from_env({"APP_ENV": "production", "SECRET_KEY": key})
    assert key not in str(caught.value)


@pytest.mark.parametrize("key", WEAK_KEYS.values(), ids=WEAK_KEYS.keys())
def test_settings_built_directly_refuse_a_weak_key_in_production(key):
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings(secret_key=Secret(key), app_env="production")


@pytest.mark.parametrize("previous", ["old-one", "x" * 31, *WEAK_KEYS.values()])
def test_production_refuses_a_short_or_weak_previous_key(previous):
    with pytest.raises(SettingsError, match="PREVIOUS_SECRET_KEYS") as caught:
        production(PREVIOUS_SECRET_KEYS=f"{secrets.token_urlsafe(32)},{previous}")
    message = str(caught.value)
    assert previous not in message
    assert "entry 2" in message  # which one, without showing it


@pytest.mark.parametrize(
    "generate",
    [
        lambda: secrets.token_urlsafe(32),
        lambda: secrets.token_urlsafe(48),
        lambda: secrets.token_urlsafe(64),
        lambda: secrets.token_hex(16),
        lambda: secrets.token_hex(32),
    ],
    ids=["token_urlsafe(32)", "token_urlsafe(48)", "token_urlsafe(64)", "token_hex(16)", "token_hex(32)"],
)
def test_generated_keys_always_pass(generate):
    for _ in range(2000):
        key = generate()
        Settings(secret_key=Secret(key), previous_secret_keys=(Secret(generate()),), app_env="production")


def test_the_test_suite_key_passes():
    Settings(secret_key=Secret(TEST_SECRET), app_env="production")


def test_development_warns_about_weak_keys_and_runs(caplog):
    with caplog.at_level(logging.WARNING, logger="gatehouse.settings"):
        settings = Settings.from_env({"SECRET_KEY": "s" * 32, "PREVIOUS_SECRET_KEYS": "old"})
    assert settings.secret_key.reveal() == "s" * 32
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "SECRET_KEY" in messages and "PREVIOUS_SECRET_KEYS" in messages
    assert "s" * 32 not in messages


# -- other settings that open the door in production -------------------------------------


# Each trusts the whole internet (or a large part of it), in a spelling the text alone hides:
# proxies are compared as canonical networks (core/client.py), so the check is made on those.
TRUST_THE_INTERNET = {
    "star": "*",
    "IPv4 /0": "0.0.0.0/0",
    "IPv6 /0": "::/0",
    "IPv6 /0 beside a proxy": "10.0.0.1,::/0",
    "IPv4-mapped /96, compared as 0.0.0.0/0": "::ffff:0:0/96",
    "IPv4-mapped halves": "::ffff:0.0.0.0/97,::ffff:128.0.0.0/97",
    "two IPv4 halves": "0.0.0.0/1,128.0.0.0/1",
    "IPv6 global unicast": "2000::/3",
    "a public /7": "4.0.0.0/7",
    "two public /8s": "11.0.0.0/8,12.0.0.0/8",
    "two public IPv6 /32s": "2a00::/32,2a01::/32",
    "a public IPv6 /31": "2a00::/31",
}


@pytest.mark.parametrize("proxies", TRUST_THE_INTERNET.values(), ids=TRUST_THE_INTERNET.keys())
def test_production_refuses_trusting_every_peer_as_a_proxy(proxies):
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        production(TRUSTED_PROXIES=proxies)
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        Settings(secret_key=Secret(STRONG), app_env="production", trusted_proxies=tuple(proxies.split(",")))


@pytest.mark.parametrize(
    "proxies",
    [
        "127.0.0.1",
        "10.0.0.5,10.0.0.6",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,127.0.0.0/8,169.254.0.0/16",
        "::1,fc00::/7",
        "fd00::/8,fe80::/10",
        "::ffff:10.0.0.0/104",
        "203.0.113.0/24",
        "11.0.0.0/8",
        "2001:db8::/32",
    ],
)
def test_production_accepts_proxies_and_private_networks(proxies):
    assert production(TRUSTED_PROXIES=proxies).trusted_proxies == tuple(proxies.split(","))


@pytest.mark.parametrize("proxies", ["*", "::ffff:0:0/96", "0.0.0.0/1,128.0.0.0/1"])
def test_development_warns_about_trusting_every_peer(caplog, proxies):
    with caplog.at_level(logging.WARNING, logger="gatehouse.settings"):
        Settings.from_env({"SECRET_KEY": STRONG, "TRUSTED_PROXIES": proxies})
    assert any("TRUSTED_PROXIES" in r.getMessage() for r in caplog.records)


def test_production_refuses_plain_http_origins():
    with pytest.raises(SettingsError, match="ALLOWED_ORIGINS"):
        production(ALLOWED_ORIGINS="https://app.example.com,http://app.example.com")
    assert production(ALLOWED_ORIGINS="https://app.example.com").allowed_origins == (
        "https://app.example.com",
    )


# -- start-up: one line, exit 2, for every command that reads the settings ----------------


def run_cli(tmp_path: Path, command: str, **env: str) -> subprocess.CompletedProcess[str]:
    read = ("SECRET_KEY", "PREVIOUS_", "BCRYPT", "REDIS", "ALLOWED_", "TRUSTED_")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(read)}
    clean.update({"APP_ENV": "production", "DATABASE_URL": "sqlite://:memory:", "PORT": "1", **env})
    args = [sys.executable, str(MAIN), command]
    if command == "create-admin":
        args += ["--username", "root", "--email", "root@example.com"]
    return subprocess.run(args, cwd=tmp_path, env=clean, input="", capture_output=True, text=True, timeout=30)


@pytest.mark.server
@pytest.mark.parametrize("command", ["serve", "migrate", "create-admin"])
@pytest.mark.parametrize(
    ("variable", "env"),
    [
        ("BCRYPT_ROUNDS", {"SECRET_KEY": STRONG, "BCRYPT_ROUNDS": "4"}),
        ("SECRET_KEY", {"SECRET_KEY": "s" * 32}),
        ("PREVIOUS_SECRET_KEYS", {"SECRET_KEY": STRONG, "PREVIOUS_SECRET_KEYS": "old-one"}),
        ("TRUSTED_PROXIES", {"SECRET_KEY": STRONG, "TRUSTED_PROXIES": "::ffff:0:0/96"}),
        ("ALLOWED_HOSTS", {"SECRET_KEY": STRONG, "HOST": "0.0.0.0"}),
        ("ALLOWED_HOSTS", {"SECRET_KEY": STRONG, "ALLOWED_HOSTS": "例え..jp"}),
    ],
    ids=["bcrypt-4", "repeated-key", "short-previous-key", "mapped-trust-all", "wildcard-host", "bad-idn"],
)
def test_every_command_stops_with_one_line_naming_the_variable(tmp_path, command, variable, env):
    done = run_cli(tmp_path, command, **env)

    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert "Gatehouse on" not in done.stdout
    for name in ("SECRET_KEY", "PREVIOUS_SECRET_KEYS"):  # a key is never shown
        if name in env:
            assert env[name] not in done.stderr


@pytest.mark.server
def test_the_uvicorn_factory_stops_with_one_line_too(tmp_path):
    read = ("SECRET_KEY", "PREVIOUS_", "BCRYPT", "REDIS", "ALLOWED_", "TRUSTED_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(read)}
    env.update(
        {
            "APP_ENV": "production",
            "DATABASE_URL": "sqlite://:memory:",
            "SECRET_KEY": "s" * 32,
            "PYTHONPATH": str(MAIN.parent),
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "uvicorn", "--factory", "app.asgi:create_from_env", "--port", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "SECRET_KEY" in lines[0], done.stderr
    assert "s" * 32 not in done.stderr
