"""A real nginx (Debian's package) in front of a real Gatehouse, with `auth_request
/auth/verify` guarding a location (contract section 9, issue 13's "must show").

nginx runs unprivileged on spare ports with its own configuration, prefix, temporary
directories and error log in the test's tmp dir, in the foreground (`daemon off`). It
serves Gatehouse's /graphql (so a session cookie is set for the host the browser sees)
and `/protected/`, which asks `/auth/verify` first and hands the user's `X-Auth-*`
headers to a tiny upstream (a second nginx server that echoes them). Without nginx the
module is skipped, naming the command that installs it, except under CI, where it fails.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
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

pytestmark = pytest.mark.server

INSTALL = "bash .ci/setup-clients (as root: apt-get install nginx)"
REGISTER = """
mutation($input: RegisterInput!) { register(input: $input) { accessToken user { id } } }"""
LOGOUT = "mutation { logout }"
CREATE_TOKEN = 'mutation { createApiToken(name: "svc", scopes: ["users:read"]) { token } }'

CONFIG = """
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

    server {{
        listen 127.0.0.1:{port};

        # Gatehouse itself under the same host, so its session cookie reaches /protected/.
        location = /graphql {{
            proxy_pass http://127.0.0.1:{gatehouse_port};
        }}

        location /protected/ {{
            auth_request /_verify;
            auth_request_set $auth_user_id $upstream_http_x_auth_user_id;
            auth_request_set $auth_username $upstream_http_x_auth_username;
            auth_request_set $auth_roles $upstream_http_x_auth_roles;
            auth_request_set $auth_scopes $upstream_http_x_auth_scopes;
            # Set, never passed through: a client's own X-Auth-* headers are replaced.
            proxy_set_header X-Auth-User-Id $auth_user_id;
            proxy_set_header X-Auth-Username $auth_username;
            proxy_set_header X-Auth-Roles $auth_roles;
            proxy_set_header X-Auth-Scopes $auth_scopes;
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
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
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
def gatehouse(tmp_path: Path) -> Iterator[GatehouseServer]:
    env = fresh_server_environment(tmp_path)
    with GatehouseServer(env) as running:
        yield running


@pytest.fixture
def nginx(nginx_path: str, gatehouse: GatehouseServer, tmp_path: Path) -> Iterator[str]:
    """A running nginx in front of `gatehouse`; yields its base URL."""
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    port, upstream_port = free_port(), free_port()
    config = prefix / "nginx.conf"
    config.write_text(
        CONFIG.format(tmp=prefix, port=port, upstream_port=upstream_port, gatehouse_port=gatehouse.port)
    )
    command = [nginx_path, "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        ready = wait_for(lambda: httpx.get(f"{url}/protected/", timeout=1).status_code in (200, 401))
        assert ready, (prefix / "error.log").read_text(errors="replace")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


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
