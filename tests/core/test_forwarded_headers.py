"""`core/client.py` `ForwardedHeaders`: uvicorn's `ProxyHeadersMiddleware` as the app's
outermost layer, and what of its behaviour Gatehouse relies on.

Each test here pins uvicorn 0.54's handling: if an upgrade changes it, one of them fails
and names what moved, before a client address or scheme is silently believed otherwise.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import Request

from app.factory import create_app
from core.client import PEER_KEY, ForwardedHeaders, client_info, rate_limit_key, uvicorn_trusted_hosts
from tests.helpers import free_port, make_settings


def resolved(
    peer: str | None,
    headers: list[tuple[str, str]],
    trusted: tuple[str, ...] = ("127.0.0.1",),
    kind: str = "http",
) -> dict[str, Any]:
    """The scope the app sees after `ForwardedHeaders`."""
    scope: dict[str, Any] = {
        "type": kind,
        "scheme": "ws" if kind == "websocket" else "http",
        "client": None if peer is None else (peer, 4711),
        "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers],
    }
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    asyncio.run(ForwardedHeaders(app, trusted)(scope, None, None))  # type: ignore[arg-type]
    return seen[0]


def client_of(scope: dict[str, Any]) -> str | None:
    return None if scope["client"] is None else scope["client"][0]


def test_the_right_most_hop_that_is_not_a_trusted_proxy_is_the_client():
    trusted = ("127.0.0.1", "10.0.0.0/8")
    xff = [("X-Forwarded-For", "192.0.2.66, 198.51.100.1, 10.0.0.2, 10.0.0.3")]
    assert client_of(resolved("127.0.0.1", xff, trusted)) == "198.51.100.1"


def test_several_forwarded_for_lines_are_one_list_in_order():
    trusted = ("127.0.0.1", "10.0.0.0/8")
    lines = [("X-Forwarded-For", "198.51.100.1"), ("X-Forwarded-For", "10.0.0.2")]
    assert client_of(resolved("127.0.0.1", lines, trusted)) == "198.51.100.1"


def test_an_untrusted_peer_is_left_as_it_is():
    scope = resolved("192.0.2.1", [("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "https")])
    assert (scope["client"], scope["scheme"]) == (("192.0.2.1", 4711), "http")
    assert scope[PEER_KEY] is scope["client"]


@pytest.mark.parametrize(
    ("peer", "hop", "trusted", "client"),
    [
        # Networks, IPv4 and IPv6, as CIDR.
        ("10.1.2.3", "203.0.113.9", ("10.0.0.0/8",), "203.0.113.9"),
        ("fd00::7", "2001:db8::9", ("fd00::/8",), "2001:db8::9"),
        # An IPv4 entry also trusts its IPv4-mapped IPv6 spelling (a dual-stack socket's peer).
        ("::ffff:127.0.0.1", "203.0.113.9", ("127.0.0.1",), "203.0.113.9"),
        ("::ffff:10.9.9.9", "203.0.113.9", ("10.0.0.0/8",), "203.0.113.9"),
        # A zone id on the peer does not hide a trusted IPv6 address.
        ("fe80::1%eth0", "203.0.113.9", ("fe80::1",), "203.0.113.9"),
        # Hops are matched the same way: a mapped trusted hop is walked past.
        ("127.0.0.1", "203.0.113.9, ::ffff:10.0.0.5", ("127.0.0.1", "10.0.0.0/8"), "203.0.113.9"),
    ],
)
def test_trusted_proxies_are_matched_as_addresses(peer, hop, trusted, client):
    assert client_of(resolved(peer, [("X-Forwarded-For", hop)], trusted)) == client


@pytest.mark.parametrize(
    ("peer", "trusted"),
    [("10.0.0.1", ("10.0.0.2",)), ("::ffff:10.0.0.1", ("10.0.0.2",)), ("11.0.0.1", ("10.0.0.0/8",))],
)
def test_peers_outside_trusted_proxies_are_not_believed(peer, trusted):
    assert client_of(resolved(peer, [("X-Forwarded-For", "203.0.113.9")], trusted)) == peer


def test_a_hop_that_is_no_address_is_handed_on_as_text_and_client_info_refuses_it():
    """uvicorn puts whatever text the hop holds in `scope["client"]`; `client_info` never
    takes it for the client: the nearest trusted proxy stands for it."""
    settings = make_settings(trusted_proxies=("127.0.0.1", "10.0.0.0/8"))
    hops = [("X-Forwarded-For", "203.0.113.9, junk, 10.0.0.2")]
    scope = resolved("127.0.0.1", hops, settings.trusted_proxies)
    assert client_of(scope) == "junk"
    assert client_info(Request(scope), settings).ip == "10.0.0.2"
    assert rate_limit_key(client_info(Request(scope), settings).ip, 64) == "10.0.0.2"  # never "junk"
    scope = resolved("127.0.0.1", [("X-Forwarded-For", "x" * 100)], settings.trusted_proxies)
    assert client_of(scope) == "x" * 100
    assert client_info(Request(scope), settings).ip == "127.0.0.1"


def test_an_empty_forwarded_for_keeps_the_peer():
    assert client_of(resolved("127.0.0.1", [("X-Forwarded-For", " , ")])) == "127.0.0.1"


@pytest.mark.parametrize(
    ("proto", "scheme"),
    [("https", "https"), (" https ", "https"), ("http", "http"), ("HTTPS", "http"), ("https, http", "http"),
     ("ftp", "http")],
)  # fmt: skip
def test_only_an_exact_lower_case_forwarded_proto_sets_the_scheme(proto, scheme):
    settings = make_settings()
    scope = resolved("127.0.0.1", [("X-Forwarded-Proto", proto)])
    assert scope["scheme"] == scheme
    assert client_info(Request(scope), settings).is_https is (scheme == "https")


def test_a_websocket_behind_a_tls_proxy_is_wss():
    scope = resolved("127.0.0.1", [("X-Forwarded-Proto", "https")], kind="websocket")
    assert scope["scheme"] == "wss"


def test_star_trusts_every_peer_and_takes_the_left_most_hop():
    assert uvicorn_trusted_hosts(("*",)) == ["*"]
    scope = resolved("198.51.100.7", [("X-Forwarded-For", "203.0.113.9, 192.0.2.1")], ("*",))
    assert client_of(scope) == "203.0.113.9"


def test_the_lifespan_passes_untouched():
    scope = resolved(None, [], kind="lifespan")
    assert PEER_KEY not in scope


def test_the_app_factory_puts_it_outermost():
    app = create_app(make_settings(trusted_proxies=("10.0.0.0/8",)))
    first = app.user_middleware[0]
    assert first.cls is ForwardedHeaders
    assert first.kwargs == {"trusted_proxies": ("10.0.0.0/8",)}


def test_serve_leaves_uvicorns_own_proxy_headers_off(monkeypatch):
    """The app applies the middleware; uvicorn's own would apply it again, with its
    default trusted hosts."""
    import uvicorn

    import main

    captured: dict[str, Any] = {}

    def run(server: uvicorn.Server, sockets: Any = None) -> None:
        captured.update(vars(server.config))
        server.started = True

    monkeypatch.setattr(uvicorn.Server, "run", run)
    monkeypatch.setattr(main, "_settings", lambda: make_settings(port=free_port()))

    async def healthy(settings: Any) -> None:
        return None

    monkeypatch.setattr("app.preflight.check_before_serving", healthy)
    monkeypatch.setattr("app.factory.create_app", lambda settings, **kwargs: object())
    assert main.cmd_serve(None) == 0  # type: ignore[arg-type]
    assert captured["proxy_headers"] is False
