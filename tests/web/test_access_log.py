"""Contract section 6, the access log: one line per request in development (method, path,
status, time), never the query string, credentials or cookie values; off by default in
production, where `ACCESS_LOG=on` turns it on. Logger: `gatehouse.access`.
"""

from __future__ import annotations

import base64
import logging
import re
from typing import Any

import httpx
import pytest

from tests.helpers import (
    GRAPHQL,
    LOGIN,
    REGISTER,
    STRONG_PASSWORD,
    app_client,
    login_variables,
    make_settings,
)
from tests.web.exchange import post

ACCESS = "gatehouse.access"
SECRET_TOKEN = "gat_sEcReT-token-value-0123456789"
SECRET_PASSWORD = "hunter2-is-my-password"
SECRET_COOKIE = "cookie-value-that-must-stay-private"
# A duration with its unit: "3.2ms", "12 ms", "0.004s".
DURATION = re.compile(r"\d+(?:\.\d+)?\s?(?:ms|s|µs)\b")


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == ACCESS]


def everything_logged(record: logging.LogRecord) -> str:
    """The line and every attribute a formatter could print (args, extras)."""
    return record.getMessage() + " " + repr(record.__dict__)


def assert_line(record: logging.LogRecord, method: str, path: str, status: int) -> None:
    line = record.getMessage()
    assert re.search(rf"\b{method}\b", line), line
    assert re.search(rf"(?<![\w/]){re.escape(path)}(?![\w/?])", line), line
    assert re.search(rf"\b{status}\b", line), line
    assert DURATION.search(line), line
    assert "?" not in line, line


@pytest.fixture
async def development(clean_backends) -> Any:
    async with app_client(make_settings(app_env="development")) as client:
        yield client


async def test_one_line_per_request_with_method_path_status_and_time(
    development: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.INFO, logger=ACCESS):
        await post(development, {"query": "{ __typename }"})
        await development.get(
            GRAPHQL, params={"query": "{ me { id } }"}, headers={"Accept": "application/json"}
        )
        await post(development, {"query": "{ nope }"}, accept="application/graphql-response+json")
        await development.put(GRAPHQL, json={"query": "{ me { id } }"})
        await development.get("/healthz")
        await development.get("/no-such-page")

    records = access_records(caplog)
    assert len(records) == 6, [r.getMessage() for r in records]
    assert_line(records[0], "POST", "/graphql", 200)
    assert_line(records[1], "GET", "/graphql", 200)
    assert_line(records[2], "POST", "/graphql", 400)
    assert_line(records[3], "PUT", "/graphql", 405)
    assert_line(records[4], "GET", "/healthz", 200)
    assert_line(records[5], "GET", "/no-such-page", 404)


async def test_requests_refused_before_the_view_are_logged_too(
    development: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.INFO, logger=ACCESS):
        await post(development, {"query": "{ me { id } }"}, headers={"Authorization": "Bearer nope"})
        await post(development, b'{"query": "' + b" " * (1024 * 1024 + 1) + b'"}')
        await post(development, b"x", content_type="text/plain")

    records = access_records(caplog)
    assert [r.getMessage() for r in records] and len(records) == 3, [r.getMessage() for r in records]
    assert_line(records[0], "POST", "/graphql", 401)
    assert_line(records[1], "POST", "/graphql", 413)
    assert_line(records[2], "POST", "/graphql", 415)


async def test_no_query_string_credentials_or_cookie_values(
    development: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
):
    basic_header = "Basic " + base64.b64encode(f"alice:{SECRET_PASSWORD}".encode()).decode()
    with caplog.at_level(logging.DEBUG, logger=ACCESS):
        await development.get(
            GRAPHQL,
            params={"query": "{ me { id } }", "access_token": SECRET_TOKEN, "password": SECRET_PASSWORD},
            headers={"Accept": "application/json"},
        )
        await post(
            development, {"query": "{ me { id } }"}, headers={"Authorization": f"Bearer {SECRET_TOKEN}"}
        )
        await post(
            development, {"query": "{ me { id } }"}, headers={"Authorization": f"Token {SECRET_TOKEN}"}
        )
        await post(development, {"query": "{ me { id } }"}, headers={"Authorization": basic_header})
        await post(development, {"query": "{ me { id } }"}, headers={"Cookie": f"session={SECRET_COOKIE}"})
        await post(development, {"query": LOGIN, "variables": login_variables("alice", SECRET_PASSWORD)})

    records = access_records(caplog)
    assert len(records) == 6, [r.getMessage() for r in records]
    for record in records:
        logged = everything_logged(record)
        for secret in (SECRET_TOKEN, SECRET_PASSWORD, SECRET_COOKIE, basic_header.split()[1], "access_token"):
            assert secret not in logged, logged
        assert "query=" not in logged and "%7B" not in logged, logged


async def test_a_session_cookie_set_by_login_is_not_logged(
    development: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
):
    variables = {"input": {"username": "carol", "email": "carol@example.com", "password": STRONG_PASSWORD}}
    with caplog.at_level(logging.DEBUG, logger=ACCESS):
        registered = await post(development, {"query": REGISTER, "variables": variables})
    session = registered.cookies.get("session")
    assert session, registered.headers
    for record in access_records(caplog):
        assert session not in everything_logged(record)


@pytest.mark.parametrize(
    ("overrides", "logged"),
    [
        ({"app_env": "production"}, False),
        ({"app_env": "production", "access_log": True}, True),
        ({"app_env": "development", "access_log": False}, False),
        ({"app_env": "development"}, True),
    ],
    ids=["production", "production-on", "development-off", "development"],
)
async def test_on_by_default_outside_production_only(
    clean_backends, caplog: pytest.LogCaptureFixture, overrides: dict[str, Any], logged: bool
):
    async with app_client(make_settings(**overrides)) as client:
        with caplog.at_level(logging.DEBUG, logger=ACCESS):
            await post(client, {"query": "{ __typename }"})
            await client.get("/healthz")

    records = access_records(caplog)
    assert len(records) == (2 if logged else 0), [r.getMessage() for r in records]


def test_access_log_on_is_read_from_the_environment():
    from core.settings import Settings

    secret = "an-environment-secret-key-of-enough-length-0123456789"
    production = {
        "SECRET_KEY": secret,
        "APP_ENV": "production",
        "BCRYPT_ROUNDS": "12",
        "ALLOWED_HOSTS": "a.example",
    }
    assert Settings.from_env(production).access_log_on is False
    assert Settings.from_env({**production, "ACCESS_LOG": "on"}).access_log_on is True
    assert Settings.from_env({"SECRET_KEY": secret}).access_log_on is True
    assert Settings.from_env({"SECRET_KEY": secret, "ACCESS_LOG": "off"}).access_log_on is False
