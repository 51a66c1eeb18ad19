"""The mail settings of contract section 11: MAIL_URL, MAIL_FROM, PUBLIC_URL, MAIL_TIMEOUT,
MAIL_LIMIT_PER_ADDRESS, MAIL_LIMIT_PER_IP and REQUIRE_VERIFIED_EMAIL."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from core.settings import Secret, Settings, SettingsError

GOOD_SECRET = "gY7-pQ2xL9vKm4Rz8TbW1nJc6HsDf3Ae"
PRODUCTION = {"APP_ENV": "production", "BCRYPT_ROUNDS": "12"}


def from_env(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"SECRET_KEY": GOOD_SECRET, **env}, secret_file=tmp_path / ".secret_key")


def test_defaults(tmp_path):
    settings = from_env(tmp_path)
    assert settings.mail_server.console
    assert settings.mail_from == "gatehouse@localhost"
    assert settings.public_url is None and settings.link_base == "http://127.0.0.1:8000"
    assert settings.mail_timeout == 10.0
    assert (settings.mail_limit_per_address, settings.mail_limit_per_ip) == ("3/hour", "20/hour")
    assert settings.require_verified_email is False


@pytest.mark.parametrize(
    ("url", "scheme", "port", "username", "password"),
    [
        ("console", "console", 0, None, None),
        ("CONSOLE", "console", 0, None, None),
        ("smtp://mail.example.com", "smtp", 587, None, None),
        ("smtp://mail.example.com:25", "smtp", 25, None, None),
        ("smtps://mail.example.com", "smtps", 465, None, None),
        (
            "smtp://me%40example.com:p%40ss%3Aword@mail.example.com:2525",
            "smtp",
            2525,
            "me@example.com",
            "p@ss:word",
        ),
        ("SMTPS://user:pw@mail.example.com:4650/", "smtps", 4650, "user", "pw"),
    ],
)
def test_mail_url_forms(tmp_path, url, scheme, port, username, password):
    server = from_env(tmp_path, MAIL_URL=url).mail_server
    assert (server.scheme, server.port, server.username) == (scheme, port, username)
    assert server.password == (Secret(password) if password else None)


@pytest.mark.parametrize(
    "url",
    [
        "smtp://",
        "ftp://mail.example.com",
        "mail.example.com:25",
        "smtp://mail.example.com:99999",
        "smtp://mail.example.com/inbox",
        "smtp://mail.example.com?tls=off",
        "smtp://:hunter2@mail.example.com",
    ],
)
def test_bad_mail_urls_are_refused_naming_the_variable_never_the_password(tmp_path, url):
    with pytest.raises(SettingsError, match="MAIL_URL") as refused:
        from_env(tmp_path, MAIL_URL=url)
    assert "hunter2" not in str(refused.value)


def test_the_smtp_password_never_shows(tmp_path):
    settings = from_env(tmp_path, MAIL_URL="smtp://mailer:hunter2@mail.example.com")
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.mail_server)
    assert settings.mail_server.password is not None and settings.mail_server.password.reveal() == "hunter2"


def test_public_url_is_the_base_of_links(tmp_path):
    settings = from_env(tmp_path, PUBLIC_URL="https://auth.example.com/base/")
    assert settings.public_url == settings.link_base == "https://auth.example.com/base"
    assert from_env(tmp_path, HOST="0.0.0.0", PORT="9000").link_base == "http://127.0.0.1:9000"
    assert from_env(tmp_path, HOST="::1").link_base == "http://[::1]:8000"


@pytest.mark.parametrize(
    "url", ["auth.example.com", "ftp://auth.example.com", "https://", "https://a.example?x=1"]
)
def test_bad_public_urls_are_refused(tmp_path, url):
    with pytest.raises(SettingsError, match="PUBLIC_URL"):
        from_env(tmp_path, PUBLIC_URL=url)


@pytest.mark.parametrize("sender", ["nobody", "Gatehouse", "a@b.example\r\nBcc: victim@example.com"])
def test_bad_senders_are_refused(tmp_path, sender):
    with pytest.raises(SettingsError, match="MAIL_FROM"):
        from_env(tmp_path, MAIL_FROM=sender)


def test_a_named_sender_is_accepted(tmp_path):
    assert (
        from_env(tmp_path, MAIL_FROM="Gatehouse <noreply@example.com>").mail_from
        == "Gatehouse <noreply@example.com>"
    )


def test_production_needs_public_url_with_real_mail(tmp_path):
    with pytest.raises(SettingsError, match="PUBLIC_URL is required in production"):
        from_env(tmp_path, MAIL_URL="smtps://u:p@mail.example.com", **PRODUCTION)
    with pytest.raises(SettingsError, match="https"):
        from_env(
            tmp_path,
            MAIL_URL="smtps://u:p@mail.example.com",
            PUBLIC_URL="http://auth.example.com",
            **PRODUCTION,
        )
    settings = from_env(
        tmp_path, MAIL_URL="smtps://u:p@mail.example.com", PUBLIC_URL="https://auth.example.com", **PRODUCTION
    )
    assert settings.link_base == "https://auth.example.com"


def test_production_warns_about_console_mail(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="gatehouse.settings"):
        from_env(tmp_path, **PRODUCTION)
    assert any("MAIL_URL is console in production" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gatehouse.settings"):
        from_env(tmp_path)
    assert not any("MAIL_URL" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("name", ["MAIL_LIMIT_PER_ADDRESS", "MAIL_LIMIT_PER_IP"])
def test_mail_limits_are_limits_notation(tmp_path, name):
    assert getattr(from_env(tmp_path, **{name: "5/day;2/hour"}), name.lower()) == "5/day;2/hour"
    with pytest.raises(SettingsError, match=name):
        from_env(tmp_path, **{name: "three an hour"})


def test_mail_timeout_is_bounded(tmp_path):
    assert from_env(tmp_path, MAIL_TIMEOUT="30").mail_timeout == 30.0
    with pytest.raises(SettingsError, match="MAIL_TIMEOUT"):
        from_env(tmp_path, MAIL_TIMEOUT="0")


@pytest.mark.parametrize(("raw", "expected"), [("on", True), ("true", True), ("off", False), ("", False)])
def test_require_verified_email(tmp_path, raw, expected):
    assert from_env(tmp_path, REQUIRE_VERIFIED_EMAIL=raw).require_verified_email is expected
    with pytest.raises(SettingsError, match="REQUIRE_VERIFIED_EMAIL"):
        from_env(tmp_path, REQUIRE_VERIFIED_EMAIL="sometimes")
