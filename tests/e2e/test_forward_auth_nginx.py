"""A real nginx (Debian's package) in front of a real Gatehouse, with `auth_request
/auth/verify` guarding a location (contract section 9, issue 13's "must show").

nginx runs unprivileged on spare ports with its own configuration, prefix, temporary
directories and error log in the test's tmp dir, in the foreground (`daemon off`). It
serves Gatehouse's /graphql (so a session cookie is set for the host the browser sees)
and `/protected/`, which asks `/auth/verify` first and hands the user's `X-Auth-*`
headers to a tiny upstream (a second nginx server that echoes them). Without nginx the
module is skipped, naming the command that installs it, except under CI, where it fails.

The production cases run a second, smaller configuration: Gatehouse with
`APP_ENV=production`, and nginx serving `/protected/` twice, over TLS (a certificate made
for the test) and over plain HTTP, its checks connecting from `127.0.0.2`, the one
address in `TRUSTED_PROXIES`. Basic is accepted only over HTTPS, which Gatehouse learns
from that proxy's `X-Forwarded-Proto` alone.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import (
    LOGIN,
    STRONG_PASSWORD,
    login_variables,
)
from tests.helpers.config import in_ci
from tests.helpers.processes import GatehouseServer, free_port, fresh_server_environment, wait_for
from tests.helpers.smtp import client_context, self_signed_certificate

pytestmark = pytest.mark.server

INSTALL = "bash .ci/setup-clients (as root: apt-get install nginx)"
REGISTER = """
mutation($input: RegisterInput!) { register(input: $input) { accessToken user { id } } }"""
LOGOUT = "mutation { logout }"
CREATE_TOKEN = 'mutation { createApiToken(name: "svc", scopes: ["users:read"]) { token } }'

# A protected location's check: `/_verify` (Gatehouse's /auth/verify) first, then the
# user's X-Auth-* headers from its answer, set, never passed through: a client's own
# X-Auth-* headers are replaced.
AUTH_REQUEST = """            auth_request /_verify;
            auth_request_set $auth_user_id $upstream_http_x_auth_user_id;
            auth_request_set $auth_username $upstream_http_x_auth_username;
            auth_request_set $auth_roles $upstream_http_x_auth_roles;
            auth_request_set $auth_scopes $upstream_http_x_auth_scopes;
            proxy_set_header X-Auth-User-Id $auth_user_id;
            proxy_set_header X-Auth-Username $auth_username;
            proxy_set_header X-Auth-Roles $auth_roles;
            proxy_set_header X-Auth-Scopes $auth_scopes;"""
# nginx unprivileged in the foreground, every file under the test's `{tmp}`, in front of
# the protected application (an echo of what the proxy told it about the user) and the
# `{servers}` a configuration adds.
NGINX_MAIN = """
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;

    # The protected application: echoes what the proxy told it about the user.
    server {{
        listen 127.0.0.1:{upstream_port};
        location / {{
            default_type text/plain;
            set $who "id=$http_x_auth_user_id name=$http_x_auth_username";
            set $what "roles=$http_x_auth_roles scopes=$http_x_auth_scopes";
            return 200 "$who $what uri=$request_uri\\n";
        }}
    }}
{servers}
}}
"""


def nginx_config(prefix: Path, upstream_port: int, servers: str) -> str:
    """A whole nginx configuration: `NGINX_MAIN` around `servers` (already formatted)."""
    return NGINX_MAIN.format(tmp=prefix, upstream_port=upstream_port, servers=servers)


SERVERS = """
    server {{
        listen 127.0.0.1:{port};

        # Gatehouse itself under the same host, so its session cookie reaches /protected/.
        location = /graphql {{
            proxy_pass http://127.0.0.1:{gatehouse_port};
            # The host the browser used, port included (the origin check compares it with
            # Origin), and the client's own address and scheme: a client's X-Forwarded-*
            # are replaced, never passed on.
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}

        location /protected/ {{
{auth_request}
            # auth_request drops the check's Set-Cookie: hand it on (a stale cookie cleared).
            auth_request_set $auth_cookie $upstream_http_set_cookie;
            add_header Set-Cookie $auth_cookie always;
            proxy_pass http://127.0.0.1:{upstream_port};
        }}

        location = /_verify {{
            internal;
            proxy_pass http://127.0.0.1:{gatehouse_port}/auth/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;
            # Believed from TRUSTED_PROXIES only (127.0.0.1 by default, nginx's address here).
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
"""


def nginx_binary() -> str | None:
    """Debian installs nginx in /usr/sbin, which a user's PATH may lack."""
    found = shutil.which("nginx")
    if found is None and Path("/usr/sbin/nginx").exists():
        found = "/usr/sbin/nginx"
    return found


@pytest.fixture
def nginx_path() -> str:
    found = nginx_binary()
    if found is None:
        reason = f"nginx is not installed; install it with: {INSTALL}"
        print(reason)
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    return found


@pytest.fixture
def gatehouse_env() -> dict[str, str]:
    """Settings of `gatehouse` beyond the development defaults (a test parametrizes it)."""
    return {}


@pytest.fixture
def gatehouse(tmp_path: Path, gatehouse_env: dict[str, str]) -> Iterator[GatehouseServer]:
    env = {**fresh_server_environment(tmp_path), **gatehouse_env}
    with GatehouseServer(env) as running:
        yield running


@contextmanager
def running_nginx(nginx_path: str, prefix: Path, config_text: str, probe: str) -> Iterator[None]:
    """nginx with `config_text` (its files under `prefix`), running until the block ends;
    ready once `probe` (a plain-HTTP URL it serves) answers."""
    config = prefix / "nginx.conf"
    config.write_text(config_text)
    command = [nginx_path, "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        ready = wait_for(lambda: httpx.get(probe, timeout=1).status_code in (200, 401))
        assert ready, (prefix / "error.log").read_text(errors="replace")
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def nginx(nginx_path: str, gatehouse: GatehouseServer, tmp_path: Path) -> Iterator[str]:
    """A running nginx in front of `gatehouse`; yields its base URL."""
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    port, upstream_port = free_port(), free_port()
    servers = SERVERS.format(
        port=port, upstream_port=upstream_port, gatehouse_port=gatehouse.port, auth_request=AUTH_REQUEST
    )
    config = nginx_config(prefix, upstream_port, servers)
    url = f"http://127.0.0.1:{port}"
    with running_nginx(nginx_path, prefix, config, f"{url}/protected/"):
        yield url


def graphql(client: httpx.Client, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    response = client.post("/graphql", json={"query": query, "variables": variables or {}}, **kwargs)
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


def register(client: httpx.Client, username: str) -> tuple[str, str]:
    """Register through nginx; the user's id and access token."""
    data = graphql(
        client,
        REGISTER,
        {
            "input": {
                "username": username,
                "email": f"{username}@example.com",
                "password": STRONG_PASSWORD,
                "transport": "BEARER",
            }
        },
    )
    return data["register"]["user"]["id"], data["register"]["accessToken"]


def client_from(address: str, base_url: str) -> httpx.Client:
    """A client whose connections leave from `address` (a loopback address other than
    nginx's own 127.0.0.1, so that nginx's `$remote_addr` tells clients apart)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=base_url, transport=transport, timeout=10)


def echoed(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, (response.status_code, response.text)
    return dict(part.split("=", 1) for part in response.text.split())


def test_a_bearer_jwt_passes_and_the_next_request_after_logout_is_refused(nginx: str):
    with httpx.Client(base_url=nginx, timeout=10) as client:
        user_id, access = register(client, "nina")
        headers = {"Authorization": f"Bearer {access}"}

        seen = echoed(client.get("/protected/page?x=1", headers=headers))
        assert seen == {
            "id": user_id,
            "name": "nina",
            "roles": "",
            "scopes": "*",
            "uri": "/protected/page?x=1",
        }

        graphql(client, LOGOUT, headers=headers)
        refused = client.get("/protected/page", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Bearer realm="gatehouse", error="invalid_token"'


def test_a_signed_out_request_is_refused_and_forged_headers_do_not_help(nginx: str):
    with httpx.Client(base_url=nginx, timeout=10) as client:
        refused = client.get("/protected/", headers={"X-Auth-User-Id": "someone", "X-Auth-Roles": "admin"})

    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer realm="gatehouse"'


def test_a_session_cookie_passes_through_the_proxy_until_logout(nginx: str):
    with httpx.Client(base_url=nginx, timeout=10) as client:
        user_id, _ = register(client, "carla")
        graphql(client, LOGIN, login_variables("carla", STRONG_PASSWORD, "COOKIE"))
        assert client.cookies.get("session"), "the login through nginx set no session cookie"

        seen = echoed(client.get("/protected/"))
        assert seen["id"] == user_id and seen["name"] == "carla" and seen["scopes"] == "*"

        graphql(client, LOGOUT)
        # The browser would drop the cleared cookie; a replayed old value must fail too.
        assert client.get("/protected/").status_code == 401


def test_an_api_token_passes_with_its_scopes_until_revoked(nginx: str):
    with httpx.Client(base_url=nginx, timeout=10) as client:
        user_id, access = register(client, "tomas")
        value = graphql(client, CREATE_TOKEN, headers={"Authorization": f"Bearer {access}"})[
            "createApiToken"
        ]["token"]
        headers = {"Authorization": f"Token {value}"}

        seen = echoed(client.get("/protected/", headers=headers))
        assert seen["id"] == user_id and seen["scopes"] == "users:read"

        graphql(client, LOGOUT, headers=headers)
        refused = client.get("/protected/", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Token realm="gatehouse"'


def test_a_stale_session_cookie_is_refused_and_cleared_through_the_proxy(nginx: str):
    """auth_request keeps the check's headers from the client but for WWW-Authenticate:
    the documented `auth_request_set $auth_cookie` / `add_header Set-Cookie` pair is what
    lets the clearing Set-Cookie through (docs/TOKENS.md)."""
    with httpx.Client(base_url=nginx, timeout=10) as client:
        client.cookies.set("session", "A" * 43)
        refused = client.get("/protected/")

    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer realm="gatehouse"'
    cleared = refused.headers.get("set-cookie", "")
    assert cleared.startswith("session=") and "max-age=0" in cleared.lower(), refused.headers


def register_status(client: httpx.Client, username: str, headers: dict[str, str]) -> int:
    """The HTTP status of a `register` through nginx."""
    variables = {
        "input": {
            "username": username,
            "email": f"{username}@example.com",
            "password": STRONG_PASSWORD,
            "transport": "BEARER",
        }
    }
    response = client.post("/graphql", json={"query": REGISTER, "variables": variables}, headers=headers)
    return response.status_code


@pytest.mark.parametrize("gatehouse_env", [{"REGISTER_LIMIT_PER_IP": "3/minute"}])
def test_a_client_s_forged_x_forwarded_for_does_not_escape_the_per_ip_limits(nginx: str):
    """nginx is a trusted proxy, so Gatehouse takes the client's address from its
    X-Forwarded-For: nginx must set it to the peer it sees, never pass on the client's.
    Passed on, every forged address would be a fresh client to the limits."""
    with client_from("127.0.0.3", nginx) as client:
        statuses = [
            register_status(client, f"forger{n}", {"X-Forwarded-For": f"203.0.113.{n}"}) for n in range(4)
        ]
    assert statuses == [200, 200, 200, 429], statuses

    # The limit is the forger's own: another client (another address) still registers,
    # so nginx forwards each client's address rather than one for all.
    with client_from("127.0.0.4", nginx) as other:
        assert register_status(other, "honest", {"X-Forwarded-For": "203.0.113.0"}) == 200


def test_a_browser_login_with_its_origin_through_the_proxy_sets_a_cookie_that_works(nginx: str):
    """A browser at nginx's address sends `Origin: <that address>`: Gatehouse must see the
    Host and scheme the browser used (the origin check compares them with Origin), and a
    client's own X-Forwarded-Proto must not change the scheme."""
    with httpx.Client(base_url=nginx, timeout=10) as setup:
        user_id, _ = register(setup, "olga")

    for forged in ({}, {"X-Forwarded-Proto": "https"}):
        with httpx.Client(base_url=nginx, timeout=10) as browser:
            headers = {"Origin": nginx, "Sec-Fetch-Site": "same-origin", **forged}
            response = browser.post(
                "/graphql",
                json={"query": LOGIN, "variables": login_variables("olga", STRONG_PASSWORD, "COOKIE")},
                headers=headers,
            )
            assert response.status_code == 200, (forged, response.text)
            assert not response.json().get("errors"), (forged, response.text)
            assert browser.cookies.get("session"), "the login through nginx set no session cookie"

            seen = echoed(browser.get("/protected/"))
            assert seen["id"] == user_id and seen["name"] == "olga"


# -- production: Basic only over HTTPS, as a trusted proxy forwards it -------------------

PROXY_ADDRESS = "127.0.0.2"  # the checks' source address (proxy_bind): TRUSTED_PROXIES
BASIC_CHALLENGE = 'Basic realm="gatehouse", charset="UTF-8"'
PROTECTED_LOCATIONS = """
        location /protected/ {{
{auth_request}
            proxy_pass http://127.0.0.1:{upstream_port};
        }}

        location = /_verify {{
            internal;
            proxy_pass http://127.0.0.1:{gatehouse_port}/auth/verify;
            proxy_bind {proxy_address};
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            # $scheme: https on the TLS server, http on the plain one; a client's own
            # X-Forwarded-For and X-Forwarded-Proto are replaced, never passed on.
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
"""
PRODUCTION_SERVERS = """
    # TLS ends here, as in front of a production Gatehouse.
    server {{
        listen 127.0.0.1:{https_port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
{locations}
    }}

    # The same locations over plain HTTP.
    server {{
        listen 127.0.0.1:{http_port};
{locations}
    }}
"""


@dataclass
class ProductionProxy:
    """nginx in front of a production Gatehouse: its two faces, the certificate a client
    trusts, and Gatehouse's own address."""

    https_url: str
    http_url: str
    certificate: Path
    gatehouse_url: str


@pytest.fixture
def production_gatehouse(tmp_path: Path) -> Iterator[GatehouseServer]:
    env = {
        **fresh_server_environment(tmp_path),
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "BCRYPT_ROUNDS": "10",  # production's least
        "TRUSTED_PROXIES": PROXY_ADDRESS,
    }
    with GatehouseServer(env) as running:
        yield running


@pytest.fixture
def production_proxy(
    nginx_path: str, production_gatehouse: GatehouseServer, tmp_path: Path
) -> Iterator[ProductionProxy]:
    prefix = tmp_path / "nginx-production"
    prefix.mkdir()
    cert, key = self_signed_certificate(prefix)
    https_port, http_port, upstream_port = free_port(), free_port(), free_port()
    locations = PROTECTED_LOCATIONS.format(
        upstream_port=upstream_port,
        gatehouse_port=production_gatehouse.port,
        proxy_address=PROXY_ADDRESS,
        auth_request=AUTH_REQUEST,
    )
    servers = PRODUCTION_SERVERS.format(
        https_port=https_port, http_port=http_port, cert=cert, key=key, locations=locations
    )
    config = nginx_config(prefix, upstream_port, servers)
    http_url = f"http://127.0.0.1:{http_port}"
    with running_nginx(nginx_path, prefix, config, f"{http_url}/protected/"):
        yield ProductionProxy(f"https://127.0.0.1:{https_port}", http_url, cert, production_gatehouse.url)


def register_directly(gatehouse_url: str, username: str) -> str:
    """Register `username` at Gatehouse itself (not through nginx); the user's id."""
    with httpx.Client(base_url=gatehouse_url, timeout=30) as client:
        return str(register(client, username)[0])


def test_production_basic_over_https_passes_and_a_wrong_password_gets_the_challenge(
    production_proxy: ProductionProxy,
):
    user_id = register_directly(production_proxy.gatehouse_url, "bea")
    tls = client_context(production_proxy.certificate)
    with httpx.Client(base_url=production_proxy.https_url, verify=tls, timeout=30) as client:
        seen = echoed(client.get("/protected/page?x=1", auth=("bea", STRONG_PASSWORD)))
        expected = {"id": user_id, "name": "bea", "roles": "", "scopes": "*", "uri": "/protected/page?x=1"}
        assert seen == expected

        refused = client.get("/protected/page", auth=("bea", "not the password at all"))
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == BASIC_CHALLENGE
        assert "x-auth-user-id" not in refused.headers


def test_production_basic_over_plain_http_is_refused_even_with_a_forged_forwarded_proto(
    production_proxy: ProductionProxy,
):
    register_directly(production_proxy.gatehouse_url, "hal")
    with httpx.Client(base_url=production_proxy.http_url, timeout=30) as client:
        for headers in ({}, {"X-Forwarded-Proto": "https"}):
            refused = client.get("/protected/", auth=("hal", STRONG_PASSWORD), headers=headers)
            assert refused.status_code == 401, (headers, refused.text)
            assert refused.headers["www-authenticate"] == BASIC_CHALLENGE

    # Straight to Gatehouse from 127.0.0.1, which is no trusted proxy: its
    # X-Forwarded-Proto is not believed, so this is Basic over plain HTTP too.
    with httpx.Client(base_url=production_proxy.gatehouse_url, timeout=30) as client:
        direct = client.get(
            "/auth/verify", auth=("hal", STRONG_PASSWORD), headers={"X-Forwarded-Proto": "https"}
        )
    assert direct.status_code == 401
    assert direct.headers["www-authenticate"] == BASIC_CHALLENGE
    assert "HTTPS is required" in direct.text
