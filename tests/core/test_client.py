"""`core/client.py`: addresses parsed and spelled one way, proxies matched as addresses."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import pytest
from starlette.requests import Request

from core.client import (
    ForwardedHeaders,
    TrustedProxies,
    client_info,
    normalise_ip,
    parse_ip,
    rate_limit_key,
    trusted_proxies_problem,
)
from tests.helpers import make_settings


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("127.0.0.1", "127.0.0.1"),
        (" 127.0.0.1 ", "127.0.0.1"),
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("::FFFF:7f00:1", "127.0.0.1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("203.0.113.7:8080", "203.0.113.7"),
        ("fe80::1%eth0", "fe80::1"),
        ("[fe80::1%25en0]:80", "fe80::1"),
        ("::", "::"),
    ],
)
def test_addresses_have_one_spelling(text: str, canonical: str):
    assert normalise_ip(text) == canonical


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "unknown",
        "x" * 100,
        "1.2.3",
        "1.2.3.4.5",
        "01.2.3.4",
        "256.1.1.1",
        "[2001:db8::1",
        "[2001:db8::1]x",
        "1.2.3.4:port",
        "1.2.3.4:99999",
        "1.2.3.4:\u0661",
        "2001:db8::1%" + "z" * 100,
        "\x00",
    ],
)
def test_anything_else_is_no_address(text: str | None):
    assert parse_ip(text) is None


def test_trusted_proxies_take_addresses_networks_and_everyone():
    proxies = TrustedProxies(["127.0.0.1", "10.0.0.0/8", "fd00::/8", "::ffff:192.168.0.0/112"])
    for trusted in ("127.0.0.1", "::ffff:127.0.0.1", "10.255.0.1", "fd00::1", "192.168.3.4"):
        assert proxies.trusts(parse_ip(trusted)), trusted
    for other in ("127.0.0.2", "11.0.0.1", "fe80::1", "192.169.0.1"):
        assert not proxies.trusts(parse_ip(other)), other
    assert TrustedProxies(["*"]).trusts(ipaddress.ip_address("198.51.100.1"))
    assert not TrustedProxies([]).trusts(ipaddress.ip_address("127.0.0.1"))


@pytest.mark.parametrize("entries", [("localhost",), ("10.0.0.0/33",), ("10.0.0.1", "proxy.internal")])
def test_entries_that_are_no_address_are_a_settings_error(entries: tuple[str, ...]):
    from core.settings import SettingsError

    assert "TRUSTED_PROXIES" in (trusted_proxies_problem(entries) or "")
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        make_settings(trusted_proxies=entries)


def request_from(
    peer: str | None,
    headers: dict[str, str] | list[tuple[str, str]],
    scheme: str = "http",
    trusted: tuple[str, ...] = ("127.0.0.1",),
) -> Request:
    """The request the app sees once `ForwardedHeaders` (its outermost layer) passed it on."""
    pairs = headers.items() if isinstance(headers, dict) else headers
    scope: dict[str, Any] = {
        "type": "http",
        "scheme": scheme,
        "client": (peer, 1) if peer is not None else None,
        "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in pairs],
    }
    seen: list[Request] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(Request(scope))

    asyncio.run(ForwardedHeaders(app, trusted)(scope, None, None))  # type: ignore[arg-type]
    return seen[0]


def test_the_walk_reads_from_the_right_and_stops_at_a_garbled_hop():
    settings = make_settings(trusted_proxies=("127.0.0.1", "10.0.0.0/8"))

    def walk(header: str) -> str | None:
        request = request_from("127.0.0.1", {"X-Forwarded-For": header}, trusted=settings.trusted_proxies)
        return client_info(request, settings).ip

    assert walk("203.0.113.1") == "203.0.113.1"
    assert walk("198.51.100.1, 203.0.113.1") == "203.0.113.1"  # the left is the client's own writing
    assert walk("203.0.113.1, 10.0.0.5, 10.0.0.6") == "203.0.113.1"
    assert walk("203.0.113.1, junk, 10.0.0.6") == "10.0.0.6"
    assert walk("junk") == "127.0.0.1"
    assert walk("10.0.0.9, 10.0.0.5") == "10.0.0.9"  # all trusted: the first of them
    # uvicorn walks past every trusted hop (the old walk stopped after 32): a chain of
    # trusted proxies, however long, reports the client before it.
    hops = ", ".join(["198.51.100.9"] + ["10.0.0.1"] * 37)
    assert walk(hops) == "198.51.100.9"
    assert walk(", ".join(["junk"] + ["10.0.0.1"] * 37)) == "10.0.0.1"


def test_client_info_believes_only_trusted_peers():
    settings = make_settings(trusted_proxies=("10.0.0.0/8",))

    def seen(peer: str | None, headers: dict[str, str]) -> Request:
        return request_from(peer, headers, trusted=settings.trusted_proxies)

    forwarded = {"X-Forwarded-For": "203.0.113.1", "X-Forwarded-Proto": "https"}
    behind = client_info(seen("10.1.1.1", forwarded), settings)
    assert (behind.ip, behind.is_https) == ("203.0.113.1", True)
    direct = client_info(seen("192.0.2.1", forwarded), settings)
    assert (direct.ip, direct.is_https) == ("192.0.2.1", False)
    assert client_info(seen("::ffff:192.0.2.1", {}), settings).ip == "192.0.2.1"
    assert client_info(seen("not an address", forwarded), settings).ip is None
    assert client_info(seen(None, {}), settings).ip is None


def test_user_agents_are_cut_and_lose_control_characters():
    settings = make_settings()
    assert client_info(request_from("192.0.2.1", {"User-Agent": "a" * 300}), settings).user_agent == "a" * 256
    agent = client_info(request_from("192.0.2.1", {"User-Agent": "curl/8\x00\x1b[31m"}), settings).user_agent
    assert agent == "curl/8[31m"
    assert client_info(request_from("192.0.2.1", {"User-Agent": "\x00"}), settings).user_agent is None


@pytest.mark.parametrize(
    ("ip", "prefix", "key"),
    [
        ("198.51.100.7", 64, "198.51.100.7"),
        ("::ffff:198.51.100.7", 64, "198.51.100.7"),
        ("2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"),
        ("2001:db8:1:2:3:4:5:6", 48, "2001:db8:1::/48"),
        ("2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6"),
        # 6to4 and Teredo: the IPv4 address they carry (the 6to4 site's, the Teredo client's).
        ("2002:cb00:7107:5::1", 64, "203.0.113.7"),
        ("2002:cb00:7107:ffff:1:2:3:4", 128, "203.0.113.7"),
        ("2001:0:c000:22d:0:63bf:34ff:8ef8", 64, "203.0.113.7"),
        ("2001:0:c000:22d:0:63bf:34ff:8ef8", 128, "203.0.113.7"),
        ("2001:1::1", 64, "2001:1::/64"),  # 2001:1:: is not Teredo (2001::/32)
        (None, 64, "unknown"),
        ("garbage", 64, "unknown"),
    ],
)
def test_rate_limit_keys(ip: str | None, prefix: int, key: str):
    assert rate_limit_key(ip, prefix) == key
