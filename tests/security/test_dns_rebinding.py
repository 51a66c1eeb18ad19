"""DNS rebinding: a page on evil.example re-points its own name at the server's address,
so the browser sends `Host: evil.example` with `Origin: http://evil.example`, which a
same-origin test built from the Host header accepts. The server answers only the names
it serves (`ALLOWED_HOSTS`, or what `HOST` and `ALLOWED_ORIGINS` imply), matched without
the port; anything else gets 400 `BAD_REQUEST` in GraphQL JSON before any work.
`/healthz` answers whatever the Host, for probes that use the pod's address."""

from __future__ import annotations

import httpx
import pytest

from app.factory import create_app
from core.hosts import HostCheck
from core.settings import Settings, SettingsError
from models import User
from tests.helpers import (
    GRAPHQL,
    LOGIN,
    ME,
    REGISTER,
    STRONG_PASSWORD,
    app_client,
    gql,
    login_variables,
    make_settings,
)

EVIL = {"Host": "evil.example", "Origin": "http://evil.example"}
EVIL_WITH_PORT = {"Host": "evil.example:8000", "Origin": "http://evil.example:8000"}


def register_variables(username: str) -> dict[str, object]:
    return {
        "input": {
            "username": username,
            "email": f"{username}@example.com",
            "password": STRONG_PASSWORD,
            "transport": "COOKIE",
        }
    }


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert "data" not in body  # refused before anything executed (section 6)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_REQUEST"]
    assert "host" in body["errors"][0]["message"].lower()
    assert "set-cookie" not in response.headers
    assert response.headers["cache-control"] == "no-store"


async def post(client: httpx.AsyncClient, query: str, variables=None, headers=None) -> httpx.Response:
    body: dict[str, object] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return await client.post(GRAPHQL, json=body, headers=headers)


# -- the attack ---------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [EVIL, EVIL_WITH_PORT], ids=["no port", "with port"])
async def test_login_for_a_foreign_host_is_refused(http: httpx.AsyncClient, alice, headers):
    response = await post(http, LOGIN, login_variables("alice", STRONG_PASSWORD, "COOKIE"), headers)
    assert_refused(response)


async def test_register_for_a_foreign_host_is_refused_and_creates_nothing(http: httpx.AsyncClient):
    response = await post(http, REGISTER, register_variables("mallory"), EVIL)
    assert_refused(response)
    assert not await User.filter(username_key="mallory").exists()


async def test_a_signed_in_browser_is_not_read_through_a_foreign_host(http: httpx.AsyncClient, alice):
    signed_in = await gql(http, LOGIN, login_variables("alice", STRONG_PASSWORD, "COOKIE"))
    assert signed_in.status == 200 and http.cookies.get("session"), signed_in.body

    response = await post(http, ME, headers=EVIL)  # the jar still sends the cookie
    assert_refused(response)
    assert "alice" not in response.text


async def test_graphiql_is_not_served_for_a_foreign_host(http: httpx.AsyncClient):
    response = await http.get(GRAPHQL, headers={"Host": "evil.example", "Accept": "text/html"})
    assert_refused(response)


async def test_the_strawberry_path_is_guarded_too(http: httpx.AsyncClient):
    body = {"query": ME, "extensions": {"trace": False}}
    assert_refused(await http.post(GRAPHQL, json=body, headers=EVIL))


# -- what passes ----------------------------------------------------------------------------


async def test_the_servers_own_host_passes_with_any_port(http: httpx.AsyncClient, alice):
    for host in ("testserver", "testserver:8000", "TESTSERVER:1"):
        response = await post(
            http,
            LOGIN,
            login_variables("alice", STRONG_PASSWORD, "BEARER"),
            {"Host": host, "Origin": f"http://{host.lower()}"},
        )
        assert response.status_code == 200, (host, response.text)
        assert response.json()["data"]["login"]["accessToken"]


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost", "localhost:3000", "[::1]:8000", "[::1]"])
async def test_loopback_names_pass_by_default(open_app, host):
    client = await open_app(make_settings(allowed_hosts=()))
    response = await post(client, ME, headers={"Host": host})
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"me": None}}


async def test_hosts_of_allowed_origins_pass(open_app):
    settings = make_settings(allowed_hosts=(), allowed_origins=("https://app.example.com",))
    client = await open_app(settings)
    passed = await post(client, ME, headers={"Host": "app.example.com"})
    assert passed.status_code == 200, passed.text
    assert_refused(await post(client, ME, headers={"Host": "evil.example"}))


async def test_explicit_allowed_hosts_replace_the_default(open_app):
    client = await open_app(make_settings(allowed_hosts=("auth.example.com", "*.internal.example")))
    assert (await post(client, ME, headers={"Host": "auth.example.com:443"})).status_code == 200
    assert (await post(client, ME, headers={"Host": "gh.internal.example"})).status_code == 200
    assert_refused(await post(client, ME, headers={"Host": "internal.example"}))
    assert_refused(await post(client, ME, headers={"Host": "localhost"}))
    assert_refused(await post(client, ME, headers={"Host": "auth.example.com.evil.example"}))


async def test_x_forwarded_host_is_not_believed(http: httpx.AsyncClient, alice):
    # Only the Host header names the host: a proxy must pass it on (nginx: `$host`).
    refused = await post(http, ME, headers={**EVIL, "X-Forwarded-Host": "testserver"})
    assert_refused(refused)
    passed = await post(http, ME, headers={"Host": "testserver", "X-Forwarded-Host": "evil.example"})
    assert passed.status_code == 200, passed.text


async def test_health_checks_answer_whatever_the_host(http: httpx.AsyncClient):
    response = await http.get("/healthz", headers={"Host": "10.1.2.3:8000"})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_a_request_without_a_host_header_is_refused():
    app = HostCheck(_never_called, allowed_hosts=["testserver"])
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": [], "query_string": b""}
    await app(scope, receive, send)
    assert sent[0]["status"] == 400


async def _never_called(scope, receive, send) -> None:
    raise AssertionError("the app must not be reached")


# -- production defaults and settings ----------------------------------------------------------


def test_production_serves_the_loopback_names_by_default():
    settings = Settings.from_env(
        {"APP_ENV": "production", "SECRET_KEY": "Jq2cVxv0m7rKp9sZ1bT4nYw8eLhA3dUf6gQiR5oNzXc"}
    )
    assert settings.served_hosts() == ("127.0.0.1", "localhost", "[::1]")


async def test_a_production_app_refuses_a_foreign_host(open_app):
    client = await open_app(make_settings(app_env="production", allowed_hosts=()))
    response = await client.post(
        GRAPHQL,
        json={"query": LOGIN, "variables": login_variables("alice", STRONG_PASSWORD)},
        headers={**EVIL, "X-Forwarded-Proto": "https"},
    )
    assert_refused(response)
    response = await client.post(GRAPHQL, json={"query": ME}, headers={"Host": "localhost:8000"})
    assert response.status_code == 200, response.text


STRONG = "Jq2cVxv0m7rKp9sZ1bT4nYw8eLhA3dUf6gQiR5oNzXc"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "[::]", "10.0.0.7", "gatehouse.internal"])
def test_production_refuses_a_reachable_listener_without_allowed_hosts(host):
    # Behind a proxy every request names the public host: the derived loopback names would
    # answer each one 400 while /healthz says ok. Start-up names the variable instead.
    with pytest.raises(SettingsError, match="ALLOWED_HOSTS"):
        Settings.from_env({"APP_ENV": "production", "SECRET_KEY": STRONG, "HOST": host})
    with pytest.raises(SettingsError, match="ALLOWED_HOSTS"):
        make_settings(app_env="production", allowed_hosts=(), host=host)
    named = Settings.from_env(
        {"APP_ENV": "production", "SECRET_KEY": STRONG, "HOST": host, "ALLOWED_HOSTS": "auth.example.com"}
    )
    assert named.served_hosts() == ("auth.example.com",)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]"])
def test_production_on_a_loopback_address_still_derives_its_hosts(host):
    settings = Settings.from_env({"APP_ENV": "production", "SECRET_KEY": STRONG, "HOST": host})
    assert settings.served_hosts() == ("127.0.0.1", "localhost", "[::1]")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.7"])
def test_development_derives_the_hosts_of_any_listener(host):
    settings = Settings.from_env({"SECRET_KEY": STRONG, "HOST": host})
    assert settings.served_hosts()


def test_the_default_follows_host_and_allowed_origins():
    settings = make_settings(
        allowed_hosts=(),
        host="10.0.0.7",
        allowed_origins=("https://app.example.com", "https://[2001:db8::1]"),
    )
    assert settings.served_hosts() == ("10.0.0.7", "app.example.com", "[2001:db8::1]")
    assert make_settings(allowed_hosts=(), host="0.0.0.0").served_hosts() == (
        "127.0.0.1",
        "localhost",
        "[::1]",
    )


def test_allowed_hosts_is_read_from_the_environment():
    settings = Settings.from_env({"SECRET_KEY": "k" * 40, "ALLOWED_HOSTS": "Auth.Example.com, *.example.org"})
    assert settings.served_hosts() == ("auth.example.com", "*.example.org")


def test_a_wildcard_is_refused_in_production_and_allowed_in_development():
    with pytest.raises(SettingsError, match="ALLOWED_HOSTS"):
        make_settings(app_env="production", allowed_hosts=("*",))
    assert make_settings(allowed_hosts=("*",)).served_hosts() == ("*",)


@pytest.mark.parametrize("bad", ["auth.example.com:8000", "https://auth.example.com", "a.*.example", "::1"])
def test_malformed_allowed_hosts_name_the_variable(bad):
    with pytest.raises(SettingsError, match="ALLOWED_HOSTS"):
        Settings.from_env({"SECRET_KEY": "k" * 40, "ALLOWED_HOSTS": bad})


# -- internationalised names: browsers send them IDNA-encoded (punycode) ----------------------

IDN_HOSTS = {
    "例え.jp": "xn--r8jz45g.jp",
    "Bücher.Example": "xn--bcher-kva.example",
    "*.bücher.example": "*.xn--bcher-kva.example",
    "xn--bcher-kva.example": "xn--bcher-kva.example",
}


def test_internationalised_allowed_hosts_are_kept_as_browsers_send_them():
    settings = Settings.from_env({"SECRET_KEY": "k" * 40, "ALLOWED_HOSTS": ",".join(IDN_HOSTS)})
    assert settings.allowed_hosts == tuple(IDN_HOSTS.values())
    assert make_settings(allowed_hosts=("bücher.example",)).served_hosts() == ("xn--bcher-kva.example",)
    assert make_settings(allowed_hosts=(), host="bücher.example").served_hosts() == ("xn--bcher-kva.example",)


async def test_an_internationalised_host_passes_in_the_form_browsers_send(open_app):
    client = await open_app(make_settings(allowed_hosts=("bücher.example", "*.例え.jp")))
    for host in ("xn--bcher-kva.example", "XN--BCHER-KVA.example:8443", "api.xn--r8jz45g.jp"):
        response = await post(client, ME, headers={"Host": host})
        assert response.status_code == 200, (host, response.text)
    assert_refused(await post(client, ME, headers={"Host": "xn--r8jz45g.jp"}))
    assert_refused(await post(client, ME, headers={"Host": "evil.example"}))


async def test_an_internationalised_origin_serves_its_host_and_gets_cors(open_app):
    origin = "https://xn--bcher-kva.example"
    settings = make_settings(allowed_hosts=(), allowed_origins=("https://Bücher.example",))
    assert settings.allowed_origins == (origin,)
    assert "xn--bcher-kva.example" in settings.served_hosts()
    client = await open_app(settings)
    preflight = await client.options(
        GRAPHQL,
        headers={"Host": "xn--bcher-kva.example", "Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == origin
    response = await post(client, ME, headers={"Host": "xn--bcher-kva.example", "Origin": origin})
    assert response.status_code == 200, response.text


def test_origins_are_kept_as_browsers_send_them():
    settings = Settings.from_env(
        {
            "SECRET_KEY": "k" * 40,
            "ALLOWED_ORIGINS": "HTTPS://App.Example.com:443/, http://例え.jp:80, https://[2001:DB8::1]:8443",
        }
    )
    assert settings.allowed_origins == (
        "https://app.example.com",
        "http://xn--r8jz45g.jp",
        "https://[2001:db8::1]:8443",
    )


# A label over 63 characters, an empty label, a space, and characters that IDNA 2003
# (Python's codec) and browsers (UTS 46) spell differently, so the name would never match.
NO_ASCII_SPELLING = ["a" * 64 + ".example", "例え..jp", "bad host.example", "faß.example", "a\u200db.example"]


@pytest.mark.parametrize("bad", NO_ASCII_SPELLING)
def test_host_names_without_an_ascii_spelling_name_the_variable(bad):
    with pytest.raises(SettingsError, match="ALLOWED_HOSTS"):
        Settings.from_env({"SECRET_KEY": "k" * 40, "ALLOWED_HOSTS": bad})
    with pytest.raises(SettingsError, match="ALLOWED_ORIGINS"):
        Settings.from_env({"SECRET_KEY": "k" * 40, "ALLOWED_ORIGINS": f"https://{bad}"})
    with pytest.raises(SettingsError, match="HOST"):
        make_settings(allowed_hosts=(), host=bad)


def test_the_host_check_spells_internationalised_names_itself():
    check = HostCheck(_never_called, allowed_hosts=["bücher.example", "*.例え.jp"])
    assert check.allows(b"xn--bcher-kva.example")
    assert check.allows(b"www.xn--r8jz45g.jp:443")


async def test_a_wildcard_turns_the_check_off_in_development(open_app):
    client = await open_app(make_settings(allowed_hosts=("*",)))
    response = await post(client, ME, headers={"Host": "anything.example"})
    assert response.status_code == 200


def test_the_app_is_wrapped_by_the_host_check():
    app = create_app(make_settings())
    assert any(m.cls is HostCheck for m in app.user_middleware)


def test_only_allowed_hosts_are_remembered_and_never_more_than_the_cap():
    from core.hosts import MAX_SEEN

    check = HostCheck(_never_called, allowed_hosts=["localhost"])
    assert not check.allows(b"evil.example") and b"evil.example" not in check.seen
    assert not check.allows(b"localhost:notaport")
    for port in range(MAX_SEEN * 2):
        assert check.allows(f"localhost:{port}".encode())
    assert len(check.seen) == MAX_SEEN
    assert check.allows(b"localhost:99999")  # past the cap: still checked, the oldest forgotten
    assert b"localhost:99999" in check.seen and b"localhost:0" not in check.seen
    assert len(check.seen) == MAX_SEEN


async def test_the_refusal_speaks_the_media_type_the_client_accepts(clean_backends):
    async with app_client(make_settings()) as client:
        response = await client.post(
            GRAPHQL,
            json={"query": "{ me { id } }"},
            headers={"Host": "evil.example", "Accept": "application/graphql-response+json"},
        )
    assert_refused_as(response, "application/graphql-response+json")


def assert_refused_as(response: httpx.Response, media_type: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].split(";")[0] == media_type
    assert "data" not in response.json()
