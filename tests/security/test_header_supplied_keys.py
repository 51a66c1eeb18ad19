"""Keys named or carried by the token itself: `jku`, `x5u` (a URL to fetch the key from),
`jwk`, `x5c` (the key, or its certificate, inline). A verifier that followed them lets the
attacker pick the key. Gatehouse refuses any token carrying one, even when its signature
is the server's own, and never fetches the URL (a listener on 127.0.0.1 sees no request)."""

from __future__ import annotations

import socket
import threading

import httpx
import jwt
import pytest
from joserfc.jwk import OKPKey

from tests.helpers import ME, bearer, bearer_login, gql
from tests.helpers.forgery import claims_of, header_of, sign_as_server

INVALID_TOKEN = 'Bearer realm="gatehouse", error="invalid_token"'


def assert_rejected(result) -> None:
    assert result.status == 401, result.body
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.headers["www-authenticate"] == INVALID_TOKEN


class Listener:
    """A TCP listener on 127.0.0.1 counting connections (the attacker's key server)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.connections = 0
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/keys.json"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listener():
    running = Listener()
    yield running
    running.close()


@pytest.fixture
async def genuine(http: httpx.AsyncClient, alice) -> str:
    return (await bearer_login(http, "alice"))["accessToken"]


async def test_the_server_s_own_signature_without_those_headers_is_accepted(http, app, genuine):
    forged = sign_as_server(app, claims_of(genuine))
    assert (await gql(http, ME, headers=bearer(forged), cookies=False)).data["me"]["username"] == "alice"


@pytest.mark.parametrize("name", ["jku", "x5u"])
async def test_a_key_url_is_refused_and_never_fetched(http, app, genuine, listener, name):
    # Signed by the server's own key: only the header parameter can be why it is refused.
    forged = sign_as_server(app, claims_of(genuine), **{name: listener.url})
    assert_rejected(await gql(http, ME, headers=bearer(forged), cookies=False))
    assert listener.connections == 0


async def test_an_inline_key_is_refused_with_the_attacker_s_signature(http, genuine):
    attacker = OKPKey.generate_key("Ed25519")
    header = {**header_of(genuine), "jwk": attacker.as_dict(private=False)}
    forged = jwt.encode(claims_of(genuine), attacker.private_key, algorithm="EdDSA", headers=header)
    assert_rejected(await gql(http, ME, headers=bearer(forged), cookies=False))


@pytest.mark.parametrize(
    ("name", "value"),
    [("jwk", {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}), ("x5c", ["MIIBIjANBgkq"])],
)
async def test_an_inline_key_is_refused_even_with_the_server_s_signature(http, app, genuine, name, value):
    forged = sign_as_server(app, claims_of(genuine), **{name: value})
    assert_rejected(await gql(http, ME, headers=bearer(forged), cookies=False))
