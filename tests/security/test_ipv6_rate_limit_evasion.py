"""Walking around the per-IP limits with IPv6 addresses and other spellings.

Issue 10, case 5: the limits keyed on the address text, so 120 failed logins from
distinct addresses of one /64 (every subscriber gets one, or more) were never limited, and
`::ffff:a.b.c.d`, upper case, leading zeros and zone ids each got a bucket of their own.
Addresses are parsed and spelled one way (`core/client.py`), and IPv6 is counted per
network of `IPV6_RATE_LIMIT_PREFIX` bits (64 by default): for `login`, `register`,
`refreshToken` and Basic alike. `TRUSTED_PROXIES` compares addresses and networks too.
A 6to4 address gives its site a /48 per IPv4 address (65,536 /64s), and a Teredo /64 is
its relay server's: both count as the IPv4 address they carry.
"""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from core.settings import Settings
from tests.helpers import (
    LOGIN,
    ME,
    REGISTER,
    STRONG_PASSWORD,
    OpenApp,
    basic,
    from_ip,
    gql,
    login_variables,
    make_settings,
)

REFRESH = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }"
LIMIT = 5
LIMITED = make_settings(
    login_limit_per_ip=f"{LIMIT}/minute",
    login_limit_per_account="1000/minute",
    register_limit_per_ip=f"{LIMIT}/minute",
    refresh_limit_per_ip=f"{LIMIT}/minute",
)


async def attempt(client: httpx.AsyncClient, kind: str, n: int, ip: str):
    """One counted attempt of `kind` from `ip` (unknown accounts, so only the IP limit bites)."""
    headers = from_ip(ip)
    if kind == "login":
        return await gql(
            client, LOGIN, login_variables(f"nobody{n}", "wrong password"), headers, cookies=False
        )
    if kind == "basic":
        return await gql(
            client, ME, headers={**headers, **basic(f"nobody{n}", "wrong password")}, cookies=False
        )
    if kind == "refresh":
        return await gql(client, REFRESH, {"t": "gtr_" + str(n).rjust(43, "A")}, headers, cookies=False)
    variables = {
        "input": {
            "username": f"new{n}",
            "email": f"new{n}@example.com",
            "password": "x",
            "transport": "BEARER",
        }
    }
    return await gql(client, REGISTER, variables, headers, cookies=False)


def limited(result) -> bool:
    if result.status == 429:
        assert result.codes == ["RATE_LIMITED"], result.body
        return True
    assert result.status in (200, 401) and "RATE_LIMITED" not in result.codes, result.body
    return False


async def test_120_failed_logins_from_one_slash_64_are_limited(open_app: OpenApp):
    client = await open_app(make_settings(login_limit_per_account="1000/minute"))  # per IP: 30/minute
    results = [
        await attempt(client, "login", n, f"2001:db8:1:2:{n:x}:{n * 7:x}::{n + 1:x}") for n in range(120)
    ]
    refused = [limited(r) for r in results]
    assert refused[:30] == [False] * 30
    assert all(refused[30:]), refused.count(True)


@pytest.mark.parametrize("kind", ["login", "register", "refresh", "basic"])
async def test_every_per_ip_limit_keys_ipv6_by_prefix(open_app: OpenApp, kind: str):
    client = await open_app(LIMITED)
    for n in range(LIMIT):
        assert not limited(await attempt(client, kind, n, f"2001:db8:aa:bb::{n + 1:x}"))
    assert limited(await attempt(client, kind, 99, "2001:db8:aa:bb:ffff:ffff:ffff:ffff"))
    # Another /64 of the same /48 has a bucket of its own.
    assert not limited(await attempt(client, kind, 100, "2001:db8:aa:bc::1"))


SPELLINGS = [
    [
        "198.51.100.7",
        "::ffff:198.51.100.7",
        "::FFFF:C633:6407",
        "[::ffff:198.51.100.7]:4711",
        "198.51.100.7:80",
    ],
    ["2001:db8::1", "2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8:0:0::1", "[2001:db8::1]:443"],
    ["fe80::1", "fe80::1%eth0", "FE80::1%25en0"],
]


@pytest.mark.parametrize("spellings", SPELLINGS, ids=["ipv4-mapped", "ipv6", "zone-id"])
async def test_other_spellings_of_one_address_share_its_bucket(open_app: OpenApp, spellings: list[str]):
    client = await open_app(LIMITED.with_(ipv6_rate_limit_prefix=128))  # each address alone
    for n in range(LIMIT):
        assert not limited(await attempt(client, "login", n, spellings[n % len(spellings)]))
    for n, spelling in enumerate(spellings):
        assert limited(await attempt(client, "login", 50 + n, spelling)), spelling


async def test_the_prefix_is_configurable(open_app: OpenApp):
    client = await open_app(LIMITED.with_(ipv6_rate_limit_prefix=48))
    for n in range(LIMIT):
        assert not limited(await attempt(client, "login", n, f"2001:db8:aa:{n:x}::1"))  # five /64s
    assert limited(await attempt(client, "login", 9, "2001:db8:aa:ffff::1"))  # same /48
    assert not limited(await attempt(client, "login", 10, "2001:db8:ab::1"))


def test_the_setting_reads_its_variable_and_bounds():
    from core.settings import SettingsError

    env = {"SECRET_KEY": "k" * 48}
    assert Settings.from_env(env).ipv6_rate_limit_prefix == 64
    assert Settings.from_env({**env, "IPV6_RATE_LIMIT_PREFIX": "56"}).ipv6_rate_limit_prefix == 56
    for bad in ("31", "129", "x"):
        with pytest.raises(SettingsError, match="IPV6_RATE_LIMIT_PREFIX"):
            Settings.from_env({**env, "IPV6_RATE_LIMIT_PREFIX": bad})


@pytest.mark.parametrize(
    ("proxies", "peer"),
    [
        (("127.0.0.1",), "::ffff:127.0.0.1"),  # a dual-stack socket's spelling of the proxy
        (("10.0.0.0/8",), "10.20.30.40"),  # a network
        (("fd00::/8",), "fd12:3456::1"),
        (("::1",), "0:0:0:0:0:0:0:1"),
    ],
)
async def test_trusted_proxies_match_addresses_and_networks(open_app: OpenApp, proxies, peer: str):
    client = await open_app(LIMITED.with_(trusted_proxies=proxies), client=(peer, 40000))
    for n in range(LIMIT):
        assert not limited(await attempt(client, "login", n, "203.0.113.50"))
    assert limited(await attempt(client, "login", 9, "203.0.113.50"))
    # The forwarded client was believed: another client behind the proxy is not limited.
    assert not limited(await attempt(client, "login", 10, "203.0.113.51"))


async def test_an_untrusted_peer_in_a_trusted_network_spelling_is_not_believed(open_app: OpenApp):
    client = await open_app(LIMITED.with_(trusted_proxies=("10.0.0.0/8",)), client=("11.0.0.1", 40000))
    for n in range(LIMIT):
        assert not limited(await attempt(client, "login", n, f"203.0.113.{n}"))
    assert limited(await attempt(client, "login", 9, "203.0.113.99"))  # all counted as 11.0.0.1


async def test_the_default_keeps_working_for_a_real_login(open_app: OpenApp):
    from tests.helpers import make_persona

    client = await open_app(LIMITED)
    await make_persona(client, "alice")
    result = await gql(
        client, LOGIN, login_variables("alice", STRONG_PASSWORD), from_ip("2001:db8::99"), cookies=False
    )
    assert result.status == 200 and result.data["login"]["accessToken"], result.body


def sixtofour(ipv4: str, subnet: int, host: int = 1) -> str:
    """A 6to4 address (2002::/16) of the site behind `ipv4`: /48 of its own, so 65,536 /64s."""
    embedded = int(ipaddress.IPv4Address(ipv4))
    return str(ipaddress.IPv6Address((0x2002 << 112) | (embedded << 80) | (subnet << 64) | host))


def teredo(server: str, client: str, port: int) -> str:
    """A Teredo address (2001::/32): the server's IPv4 in the /64, the client's (obfuscated,
    with its port) in the low bits, so every client of one server shares a /64."""
    high = (0x20010000 << 32) | int(ipaddress.IPv4Address(server))
    low = ((port ^ 0xFFFF) << 32) | (int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF)
    return str(ipaddress.IPv6Address((high << 64) | low))


@pytest.mark.parametrize(
    "addresses",
    [
        [sixtofour("203.0.113.7", subnet) for subnet in range(LIMIT + 1)],
        [teredo(f"192.0.2.{n + 1}", "203.0.113.7", 40000 + n) for n in range(LIMIT + 1)],
        ["203.0.113.7", sixtofour("203.0.113.7", 9), teredo("192.0.2.1", "203.0.113.7", 1)] * 2,
    ],
    ids=["6to4-subnets", "teredo-servers-and-ports", "ipv4-6to4-teredo"],
)
async def test_6to4_and_teredo_addresses_count_as_the_ipv4_address_they_carry(
    open_app: OpenApp, addresses: list[str]
):
    client = await open_app(LIMITED)
    for n, address in enumerate(addresses[:LIMIT]):
        assert not limited(await attempt(client, "login", n, address)), address
    assert limited(await attempt(client, "login", LIMIT, addresses[LIMIT]))


async def test_teredo_clients_of_one_server_do_not_share_a_bucket(open_app: OpenApp):
    client = await open_app(LIMITED)
    for n in range(LIMIT):
        assert not limited(await attempt(client, "login", n, teredo("192.0.2.1", "203.0.113.7", 40000)))
    assert limited(await attempt(client, "login", LIMIT, teredo("192.0.2.1", "203.0.113.7", 40000)))
    # Another client behind the same Teredo server (the same /64) is not held back.
    assert not limited(await attempt(client, "login", 99, teredo("192.0.2.1", "198.51.100.20", 40000)))
