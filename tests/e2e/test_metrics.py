"""`/metrics` of a real server (`python main.py serve`, METRICS=on) after real requests over
HTTP: scraped and parsed with prometheus-client's parser (contract section 14)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import LOGIN, REGISTER, STRONG_PASSWORD, login_variables
from tests.helpers.processes import GatehouseServer, fresh_server_environment

pytestmark = pytest.mark.server


def counters(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_real_server_counts_a_registration_a_failed_and_a_rate_limited_login(tmp_path: Path):
    env = {**fresh_server_environment(tmp_path), "METRICS": "on", "LOGIN_LIMIT_PER_ACCOUNT": "2/minute"}
    account = {"username": "scraped", "email": "scraped@example.com", "password": STRONG_PASSWORD}
    with GatehouseServer(env) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        registered = client.post("/graphql", json={"query": REGISTER, "variables": {"input": account}})
        wrong = [
            client.post(
                "/graphql", json={"query": LOGIN, "variables": login_variables("scraped", "wrong password")}
            )
            for _ in range(2)
        ]
        limited = client.post(
            "/graphql", json={"query": LOGIN, "variables": login_variables("scraped", STRONG_PASSWORD)}
        )
        scraped = client.get("/metrics")

    assert registered.status_code == 200 and [w.status_code for w in wrong] == [401, 401]
    assert limited.status_code == 429
    assert scraped.status_code == 200
    seen = counters(scraped.text)

    def count(name: str, **labels: str) -> float:
        return seen.get((name, frozenset(labels.items())), 0.0)

    assert count("gatehouse_sign_ins_total", method="register", outcome="success") == 1
    assert count("gatehouse_sign_ins_total", method="password", outcome="failure") == 2
    assert count("gatehouse_sign_ins_total", method="password", outcome="rate_limited") == 1
    assert count("gatehouse_rate_limited_total", limit="login-account") == 1
    assert count("gatehouse_http_requests_total", route="/graphql", operation="login", status="401") == 2
    assert count("gatehouse_http_requests_total", route="/graphql", operation="login", status="429") == 1
    assert count("gatehouse_http_request_duration_seconds_count", route="/graphql", operation="register") == 1
    for private in ("scraped", STRONG_PASSWORD, "127.0.0.1"):
        assert private not in scraped.text
