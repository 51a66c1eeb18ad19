"""The Authenticator: which strategy reads which transport, and what a refusal says.

The strategies here are stand-ins of the `Strategy` protocol that record what they were
given: this file tests the join (transport to strategy) and the order of the checks, not
the strategies themselves (tests/auth/strategy/ does that, on real rows).
"""

from __future__ import annotations

import pytest
from starlette.requests import HTTPConnection

from auth.authenticate import Authenticator
from auth.errors import CredentialRejected
from auth.identity import ANONYMOUS, Identity, Scheme
from auth.methods import AuthMethod
from auth.transport.base import CookieTransport, HeaderTransport
from core.client import ClientInfo
from tests.helpers import make_settings

HTTP = ClientInfo(ip="203.0.113.9", is_https=False, user_agent=None)
HTTPS = ClientInfo(ip="203.0.113.9", is_https=True, user_agent=None)
API_TOKEN = "gth_" + "A" * 43
SETTINGS = make_settings()


class Recording:
    """A strategy that knows one token and records every read."""

    def __init__(self, scheme: Scheme, known: str = "good") -> None:
        self.scheme = scheme
        self.rejection = f"bad {scheme.value}"
        self.known = known
        self.reads: list[tuple[str, str]] = []

    async def read_token(self, token: str, presented_as: str, client: ClientInfo) -> Identity | None:
        self.reads.append((token, presented_as))
        if token != self.known:
            return None
        return Identity(scheme=self.scheme, presented_as=presented_as, credential_id=self.scheme.value)

    async def destroy_token(self, identity: Identity) -> None:
        raise AssertionError("not called by the authenticator")


@pytest.fixture
def strategies() -> dict[Scheme, Recording]:
    return {
        Scheme.BASIC: Recording(Scheme.BASIC),
        Scheme.TOKEN: Recording(Scheme.TOKEN, known=API_TOKEN),
        Scheme.JWT: Recording(Scheme.JWT),
        Scheme.SESSION: Recording(Scheme.SESSION),
    }


def authenticator(
    strategies: dict[Scheme, Recording],
    enabled: tuple[str, ...] = ("session", "jwt", "token", "basic"),
    production: bool = False,
) -> Authenticator:
    return Authenticator(
        [
            AuthMethod(HeaderTransport("Basic", https_only=production), strategies[Scheme.BASIC]),
            AuthMethod(HeaderTransport("Token"), strategies[Scheme.TOKEN]),
            AuthMethod(HeaderTransport("Bearer"), strategies[Scheme.JWT]),
            AuthMethod(CookieTransport(SETTINGS), strategies[Scheme.SESSION]),
        ],
        enabled,
    )


def request(authorization: str | None = None, cookie: str | None = None) -> HTTPConnection:
    headers = []
    if authorization is not None:
        headers.append((b"authorization", authorization.encode()))
    if cookie is not None:
        headers.append((b"cookie", f"{SETTINGS.session_cookie_name}={cookie}".encode()))
    return HTTPConnection({"type": "http", "headers": headers})


@pytest.mark.parametrize(
    ("authorization", "scheme", "presented_as"),
    [
        ("Bearer good", Scheme.JWT, "Bearer"),
        (f"Token {API_TOKEN}", Scheme.TOKEN, "Token"),
        # An API token sent as Bearer is read as the API token it is, named as it came.
        (f"Bearer {API_TOKEN}", Scheme.TOKEN, "Bearer"),
        ("Basic good", Scheme.BASIC, "Basic"),
    ],
)
async def test_each_scheme_word_reaches_its_strategy(strategies, authorization, scheme, presented_as):
    resolution = await authenticator(strategies).authenticate(request(authorization, cookie="good"), HTTP)
    assert resolution.identity.scheme is scheme
    assert resolution.identity.presented_as == presented_as
    assert not resolution.clear_cookie
    assert [s for s, strategy in strategies.items() if strategy.reads] == [scheme]


async def test_a_wrong_header_credential_is_refused_with_its_strategys_message(strategies):
    with pytest.raises(CredentialRejected) as refused:
        await authenticator(strategies).authenticate(request(f"Bearer gth_{'B' * 43}"), HTTP)
    assert refused.value.message == "bad token"
    assert refused.value.scheme == "Bearer"  # the challenge names the word the client used


async def test_a_disabled_scheme_is_refused_by_name_before_any_read(strategies):
    only_sessions = authenticator(strategies, enabled=("session",))
    for authorization, name in (
        ("Bearer good", "jwt"),
        ("Token " + API_TOKEN, "token"),
        ("Basic good", "basic"),
    ):
        with pytest.raises(CredentialRejected) as refused:
            await only_sessions.authenticate(request(authorization), HTTPS)
        assert refused.value.message == f"The {name} authentication scheme is disabled on this server."
    assert not any(strategy.reads for strategy in strategies.values())


async def test_basic_over_plain_http_is_refused_where_https_is_required(strategies):
    production = authenticator(strategies, production=True)
    with pytest.raises(CredentialRejected, match="HTTPS is required for Basic"):
        await production.authenticate(request("Basic good"), HTTP)
    assert strategies[Scheme.BASIC].reads == []
    assert (await production.authenticate(request("Basic good"), HTTPS)).identity.scheme is Scheme.BASIC


async def test_no_credential_is_anonymous(strategies):
    resolution = await authenticator(strategies).authenticate(request(), HTTP)
    assert resolution.identity is ANONYMOUS and not resolution.clear_cookie


async def test_a_live_cookie_is_the_session(strategies):
    resolution = await authenticator(strategies).authenticate(request(cookie="good"), HTTP)
    assert resolution.identity.scheme is Scheme.SESSION
    assert strategies[Scheme.SESSION].reads == [("good", "cookie")]


async def test_a_stale_cookie_is_anonymous_and_cleared(strategies):
    resolution = await authenticator(strategies).authenticate(request(cookie="stale"), HTTP)
    assert resolution.identity is ANONYMOUS and resolution.clear_cookie


async def test_a_cookie_with_sessions_disabled_is_cleared_unread(strategies):
    resolution = await authenticator(strategies, enabled=("jwt",)).authenticate(request(cookie="good"), HTTP)
    assert resolution.identity is ANONYMOUS and resolution.clear_cookie
    assert strategies[Scheme.SESSION].reads == []
