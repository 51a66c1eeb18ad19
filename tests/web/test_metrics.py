"""`GET /metrics` (web/metrics.py, contract section 14): off unless METRICS=on; on, the
counters move with real requests and parse with prometheus-client's own parser, and no
label holds a credential, an address, a username or a password."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.factory import create_app
from tests.helpers import (
    LOGIN,
    STRONG_PASSWORD,
    app_client,
    bearer,
    gql,
    login_variables,
    make_settings,
    register,
)
from web.metrics import RequestMetrics

WRONG_PASSWORD = "not the password at all"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and sorted labels, read by prometheus-client."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def client(clean_backends: None) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(metrics=True, login_limit_per_account="2/minute")
    async with app_client(settings) as http:
        yield http


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = await client.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return samples(answer.text)


async def test_metrics_are_off_by_default(clean_backends: None):
    app = create_app(make_settings())
    assert not any(m.cls is RequestMetrics for m in app.user_middleware)  # nothing on the request path
    assert app.state.backend.limiter.on_refused is None
    async with app_client(make_settings()) as http:
        assert (await http.get("/metrics")).status_code == 404


async def test_register_a_failed_and_a_rate_limited_login_move_their_counters(client: httpx.AsyncClient):
    before = await scrape(client)
    assert value(before, "gatehouse_sign_ins_total", method="password", outcome="rate_limited") == 0
    assert ("gatehouse_rate_limited_total", (("limit", "login-account"),)) in before  # shown at zero

    registered = await register(client, "metered")
    failures = [await gql(client, LOGIN, login_variables("metered", WRONG_PASSWORD)) for _ in range(2)]
    refused = await gql(client, LOGIN, login_variables("metered", STRONG_PASSWORD))
    after = await scrape(client)

    assert registered.status == 200 and [f.codes for f in failures] == [["UNAUTHENTICATED"]] * 2
    assert refused.codes == ["RATE_LIMITED"]
    assert value(after, "gatehouse_sign_ins_total", method="register", outcome="success") == 1
    assert value(after, "gatehouse_sign_ins_total", method="password", outcome="failure") == 2
    assert value(after, "gatehouse_sign_ins_total", method="password", outcome="rate_limited") == 1
    assert value(after, "gatehouse_sign_ins_total", method="password", outcome="success") == 0
    assert value(after, "gatehouse_rate_limited_total", limit="login-account") == 1
    requests = "gatehouse_http_requests_total"
    assert value(after, requests, route="/graphql", operation="register", status="200") == 1
    assert value(after, requests, route="/graphql", operation="login", status="401") == 2
    assert value(after, requests, route="/graphql", operation="login", status="429") == 1
    assert value(after, requests, route="/metrics", operation="", status="200") == 1  # the first scrape
    timed = "gatehouse_http_request_duration_seconds_count"
    assert value(after, timed, route="/graphql", operation="login") == 3
    assert (
        value(
            after,
            "gatehouse_http_request_duration_seconds_bucket",
            route="/graphql",
            operation="login",
            le="+Inf",
        )
        == 3
    )


async def test_operation_is_the_root_field_never_the_clients_operation_name(client: httpx.AsyncClient):
    names = [f"query Probe{n} {{ me {{ id }} }}" for n in range(20)]
    for document in names:
        await gql(client, document)
    await gql(client, "query { a: me { id } __typename }")
    await gql(client, 'query { me { id } viewer { can(field: "Query.users") } }')
    await gql(client, "fragment F on Query { me { id } } query { ...F }")
    await gql(client, "{ doesNotExist }")
    await gql(client, "{ me {")

    scraped = await scrape(client)
    operations = {
        dict(labels)["operation"]
        for (name, labels) in scraped
        if name == "gatehouse_http_requests_total" and dict(labels)["route"] == "/graphql"
    }

    assert operations == {"me", "(several)", "(fragment)", "(none)"}
    assert (
        value(scraped, "gatehouse_http_requests_total", route="/graphql", operation="me", status="200") == 21
    )
    assert (
        value(scraped, "gatehouse_http_requests_total", route="/graphql", operation="(none)", status="200")
        == 2
    )


async def test_routes_are_templates_and_unknown_paths_one_label(client: httpx.AsyncClient):
    for path in (
        "/nothing-here",
        "/nothing/else",
        "/auth/callback/provider-one",
        "/auth/callback/provider-two",
    ):
        await client.get(path)
    await client.get("/healthz")

    routes = {
        dict(labels)["route"]
        for (name, labels) in await scrape(client)
        if name == "gatehouse_http_requests_total"
    }

    assert routes == {"other", "/auth/callback/{provider}", "/healthz"}  # this scrape counts once done


async def test_no_label_holds_a_credential_an_address_a_username_or_a_password(client: httpx.AsyncClient):
    registered = await register(client, "secretive")
    token = registered.data["register"]["accessToken"]
    await gql(client, "query { me { id } }", headers=bearer(token))
    await gql(client, LOGIN, login_variables("secretive@example.com", WRONG_PASSWORD))
    await client.get("/graphql?query=%7Bme%7Bid%7D%7D&access_token=" + token)
    await client.get("/" + token)

    text = (await client.get("/metrics")).text

    for secret in (token, "secretive", STRONG_PASSWORD, WRONG_PASSWORD, "127.0.0.1", "example.com"):
        assert secret not in text, secret


async def test_metrics_answer_a_scraper_that_names_the_pods_address(clean_backends: None):
    """Like /healthz, /metrics is exempt from the Host check: scrapers use the pod's address."""
    async with app_client(make_settings(metrics=True), base_url="http://10.1.2.3:8000") as http:
        assert (await http.get("/metrics")).status_code == 200
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.post("/graphql", json={"query": "{ me { id } }"})).status_code == 400
