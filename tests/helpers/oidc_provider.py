"""A real OpenID provider for tests: npm `oidc-provider` (panva's) in a node process.

`tests/clients/oidc_provider.mjs` configures it (PKCE required, RFC 9207 `iss` in the
authorization response, dynamic client registration, JWT access tokens for one resource)
and answers its login page itself: the account named by `login_hint` (else the first one)
is signed in and consents, with no form to fill. Everything else is the provider's own
code, so these tests talk OpenID Connect to the real thing.

`OpenIDProvider.start()` skips the test outside CI when node or the package is missing,
naming the command that installs them (`bash .ci/setup-clients`), and fails under CI.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from joserfc.jwk import ECKey, RSAKey

from tests.helpers.config import in_ci
from tests.helpers.processes import free_port, stop_process_group, wait_for

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "tests" / "clients"
SCRIPT = CLIENTS / "oidc_provider.mjs"
INSTALL = "bash .ci/setup-clients"
RESOURCE = "https://api.gatehouse.test"
RESOURCE_SCOPE = "me users:read credentials:read"
MAX_REDIRECTS = 10


def missing_provider() -> str | None:
    """Why the provider cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return f"node is not installed (Node.js 20 or later; then run {INSTALL})"
    if not (CLIENTS / "node_modules" / "oidc-provider" / "package.json").is_file():
        return f"npm oidc-provider is not installed in tests/clients (run {INSTALL})"
    return None


def require_provider() -> None:
    """Skip (outside CI) or fail (in CI) when the provider cannot run."""
    reason = missing_provider()
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"CI is set, so the OpenID provider tests may not be skipped: {reason}")
    pytest.skip(reason)


def signing_keys(kid_prefix: str = "k1") -> dict[str, Any]:
    """A private JWKS for the provider: one RSA (RS256) and one P-256 (ES256) key."""
    rsa = RSAKey.generate_key(2048, parameters={"kid": f"{kid_prefix}-rsa", "use": "sig", "alg": "RS256"})
    ec = ECKey.generate_key("P-256", parameters={"kid": f"{kid_prefix}-ec", "use": "sig", "alg": "ES256"})
    return {"keys": [rsa.as_dict(private=True), ec.as_dict(private=True)]}


@dataclass(frozen=True)
class RegisteredClient:
    """A client registered at the provider (RFC 7591)."""

    client_id: str
    client_secret: str | None
    redirect_uris: tuple[str, ...]


class OpenIDProvider:
    """`node tests/clients/oidc_provider.mjs` on a free port of 127.0.0.1."""

    def __init__(
        self,
        accounts: dict[str, dict[str, Any]] | None = None,
        keys: dict[str, Any] | None = None,
        resource: bool = True,
        conform_id_token_claims: bool = False,
    ) -> None:
        self.port = free_port()
        self.conform_id_token_claims = conform_id_token_claims
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.accounts = dict(
            accounts
            or {
                "ext-alice": {
                    "email": "alice.ext@example.com",
                    "email_verified": True,
                    "preferred_username": "alice_ext",
                    "name": "Alice External",
                }
            }
        )
        self.keys = keys or signing_keys()
        self.resource = resource
        self.process: subprocess.Popen[bytes] | None = None
        self.dir = Path(tempfile.mkdtemp(prefix="gatehouse-oidc-"))
        self.log = self.dir / "provider.log"

    # -- the process ---------------------------------------------------------------

    def start(self) -> OpenIDProvider:
        """Start the provider and wait until its discovery document answers."""
        require_provider()
        config = {
            "port": self.port,
            "issuer": self.issuer,
            "jwks": self.keys,
            "accounts": self.accounts,
            "conform_id_token_claims": self.conform_id_token_claims,
            **({"resource": {"audience": RESOURCE, "scope": RESOURCE_SCOPE}} if self.resource else {}),
        }
        path = self.dir / "config.json"
        path.write_text(json.dumps(config))
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                ["node", str(SCRIPT), str(path)],
                cwd=CLIENTS,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        discovery = f"{self.issuer}/.well-known/openid-configuration"
        if not wait_for(lambda: httpx.get(discovery, timeout=1).status_code == 200):
            self.stop()
            raise RuntimeError(f"oidc-provider did not start:\n{self.output()}")
        return self

    def restart(self, keys: dict[str, Any] | None = None) -> None:
        """Stop and start again on the same port (new `keys`: a key rotation). Accounts
        put since the start are kept; registered clients are not (the provider keeps them
        in memory)."""
        self.stop()
        if keys is not None:
            self.keys = keys
        self.start()

    def output(self) -> str:
        """What the provider printed."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        """Stop the provider."""
        if self.process is not None:
            stop_process_group(self.process)

    def __enter__(self) -> OpenIDProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- what tests set up -----------------------------------------------------------

    def put_account(self, sub: str, **claims: Any) -> None:
        """Create or replace the account `sub` with these claims (email, email_verified,
        preferred_username, name)."""
        self.accounts[sub] = claims
        response = httpx.put(f"{self.issuer}/_harness/accounts/{sub}", json=claims, timeout=5)
        response.raise_for_status()

    def override_discovery(self, **fields: Any) -> None:
        """Merge `fields` into the discovery document from now on (none: the original)."""
        httpx.put(f"{self.issuer}/_harness/discovery", json=fields, timeout=5).raise_for_status()

    def register_client(
        self, redirect_uris: list[str], *, public: bool = False, **metadata: Any
    ) -> RegisteredClient:
        """Register a client by dynamic registration: confidential (`client_secret_basic`)
        unless `public` (no secret, `token_endpoint_auth_method: none`)."""
        body: dict[str, Any] = {
            "redirect_uris": redirect_uris,
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none" if public else "client_secret_basic",
            **metadata,
        }
        response = httpx.post(f"{self.issuer}/reg", json=body, timeout=5)
        response.raise_for_status()
        answer = response.json()
        return RegisteredClient(answer["client_id"], answer.get("client_secret"), tuple(redirect_uris))

    def provider_entry(self, name: str, client: RegisteredClient, **extra: Any) -> dict[str, Any]:
        """The `OIDC_PROVIDERS` entry for `client` of this provider, called `name`."""
        entry: dict[str, Any] = {"name": name, "issuer": self.issuer, "client_id": client.client_id}
        if client.client_secret:
            entry["client_secret"] = client.client_secret
        entry.update(extra)
        return entry

    def forge(self, claims: dict[str, Any], *, kid: str | None = None, **header: Any) -> str:
        """A JWS signed with the provider's own RSA key (its private part is the test's),
        for claims the provider would not issue by itself: a token for another client,
        several audiences, no expiry. The `kid` names the key unless given."""
        import jwt as pyjwt
        from joserfc.jwk import KeySet

        keys = KeySet.import_key_set(self.keys)
        rsa = next(k for k in keys.keys if k.key_type == "RSA")
        # PyJWT signs any header (joserfc refuses to write a `crit` it does not know).
        protected = {"kid": kid if kid is not None else rsa.kid, **header}
        return pyjwt.encode(claims, rsa.as_pem(private=True), algorithm="RS256", headers=protected)

    def id_token_claims(self, client_id: str, nonce: str | None = None, **claims: Any) -> dict[str, Any]:
        """The claims of an ID token this provider could issue to `client_id` now."""
        import time

        now = int(time.time())
        base: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "ext-alice",
            "aud": client_id,
            "iat": now,
            "exp": now + 300,
        }
        if nonce is not None:
            base["nonce"] = nonce
        base.update(self.accounts.get(str(claims.get("sub", "ext-alice")), {}))
        base.update(claims)
        return base

    # -- a browser at the provider ---------------------------------------------------

    async def authorize(self, url: str, login_hint: str | None = None) -> str:
        """Open the authorization `url` as a fresh browser would, signed in as the account
        `login_hint`, following the provider's own redirects; the first URL outside the
        provider (the client's redirect URI, with `code`, `state` and `iss`) is returned."""
        if login_hint is not None:
            url = with_query(url, login_hint=login_hint)
        async with httpx.AsyncClient(timeout=10) as browser:
            for _ in range(MAX_REDIRECTS):
                if not url.startswith(self.issuer + "/"):
                    return url
                response = await browser.get(url)
                if response.status_code not in (302, 303):
                    raise AssertionError(
                        f"the provider answered {response.status_code} at {url}: {response.text[:500]}"
                    )
                url = str(httpx.URL(url).join(response.headers["location"]))
        raise AssertionError("too many redirects at the provider")

    async def code_flow_tokens(
        self,
        client: RegisteredClient,
        *,
        nonce: str | None = None,
        login_hint: str | None = None,
        scope: str = "openid email profile",
        **params: Any,
    ) -> dict[str, Any]:
        """Run the code flow as a client app of its own (authlib's client, PKCE S256) and
        return the provider's token response (`id_token`, `access_token`; with
        `resource=RESOURCE`, the access token is a JWT for that audience)."""
        from authlib.common.security import generate_token
        from authlib.integrations.httpx_client import AsyncOAuth2Client

        redirect_uri = client.redirect_uris[0]
        verifier = generate_token(48)
        async with AsyncOAuth2Client(
            client_id=client.client_id,
            client_secret=client.client_secret,
            token_endpoint_auth_method="client_secret_basic" if client.client_secret else "none",
            redirect_uri=redirect_uri,
            scope=scope,
            code_challenge_method="S256",
        ) as oauth:
            extra = {"nonce": nonce} if nonce is not None else {}
            url, state = oauth.create_authorization_url(
                f"{self.issuer}/auth", code_verifier=verifier, **extra, **params
            )
            landed = await self.authorize(url, login_hint)
            query = dict(parse_qsl(urlsplit(landed).query))
            assert query.get("state") == state, landed
            token = await oauth.fetch_token(
                f"{self.issuer}/token", code=query["code"], code_verifier=verifier, **params
            )
        return dict(token)


def with_query(url: str, **params: str) -> str:
    """`url` with `params` added to (or replacing those of) its query."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def query_of(url: str) -> dict[str, str]:
    """The query parameters of `url`."""
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
