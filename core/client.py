"""Facts about the client: its IP and whether it came over HTTPS, proxies considered.

`X-Forwarded-For` and `X-Forwarded-Proto` are read once, by uvicorn's
`ProxyHeadersMiddleware`, the app's outermost layer (`ForwardedHeaders`, whatever serves
the app): from a peer in `TRUSTED_PROXIES` it puts the right-most hop that is not a
trusted proxy in `scope["client"]`, and `http`/`https`/`ws`/`wss` in `scope["scheme"]`.
`client_info` reads those two.

Every address is parsed with `ipaddress` and kept in one canonical spelling: IPv6
compressed and lower-case, `::ffff:a.b.c.d` as the IPv4 address it maps, zone ids
(`%eth0`) dropped. Text that is not an address (a forged `X-Forwarded-For` hop, an odd
peer) is never believed, stored or counted as an address. `TRUSTED_PROXIES` lists
addresses and networks (`10.0.0.0/8`, `fd00::/8`), compared as addresses, not as text.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

    from core.settings import Settings

MAX_USER_AGENT = 256
# Where `ForwardedHeaders` keeps the connection's own peer, before X-Forwarded-For.
PEER_KEY = "gatehouse.peer"
# Longer text is no address (the longest IPv6 spelling with a zone and port is shorter);
# it is refused without parsing and never kept in the caches below.
MAX_ADDRESS_TEXT = 100
UNKNOWN_IP = "unknown"  # what the per-IP limits count a request without an address under

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ClientInfo:
    """Where a request came from; `ip` is canonical (see `parse_ip`) or None."""

    ip: str | None
    is_https: bool
    user_agent: str | None


def _canonical(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _parse_uncached(text: str) -> IPAddress | None:
    text = text.strip()
    port = ""
    if text.startswith("["):  # "[2001:db8::1]" or "[2001:db8::1]:443"
        text, bracket, rest = text[1:].partition("]")
        if not bracket:
            return None
        if rest:
            if not rest.startswith(":"):
                return None
            port = rest[1:]
    elif text.count(":") == 1:  # "203.0.113.7:443"
        text, _, port = text.partition(":")
    if port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        return None
    text = text.partition("%")[0]  # a zone id names an interface of the sender, not the client
    try:
        return _canonical(ipaddress.ip_address(text))
    except ValueError:
        return None


_parse_cached = lru_cache(maxsize=4096)(_parse_uncached)


def parse_ip(text: str | None) -> IPAddress | None:
    """The address `text` spells (a port and brackets allowed, as proxies write them), in
    canonical form; None when `text` is not an address."""
    if not text or len(text) > MAX_ADDRESS_TEXT:
        return None
    return _parse_cached(text)


def normalise_ip(text: str | None) -> str | None:
    """The canonical text of the address `text` spells, or None when it is none."""
    if not text or len(text) > MAX_ADDRESS_TEXT:
        return None
    return _spelled_cached(text)


def _spelled_uncached(text: str) -> str | None:
    address = _parse_cached(text)
    return None if address is None else str(address)


# Keyed by text, the spelling kept: `str()` of an address costs more than the lookup.
_spelled_cached = lru_cache(maxsize=4096)(_spelled_uncached)


class TrustedProxies:
    """The peers whose `X-Forwarded-*` headers are believed: addresses and networks.

    `*` trusts every peer (development only: production settings refuse it).
    """

    def __init__(self, entries: Iterable[str]) -> None:
        self.everyone = False
        self.addresses: set[IPAddress] = set()
        self.networks: list[IPNetwork] = []
        for entry in entries:
            entry = entry.strip()
            if entry == "*":
                self.everyone = True
            elif "/" in entry:
                try:
                    network = ipaddress.ip_network(entry.partition("%")[0], strict=False)
                except ValueError:
                    raise ValueError(entry) from None
                self.networks.append(_canonical_network(network))
            else:
                address = parse_ip(entry)
                if address is None:
                    raise ValueError(entry)
                self.addresses.add(address)

    def trusts(self, address: IPAddress) -> bool:
        """Whether `address` (canonical, see `parse_ip`) is a trusted proxy."""
        return self.everyone or address in self.addresses or any(address in net for net in self.networks)


def _canonical_network(network: IPNetwork) -> IPNetwork:
    """`::ffff:10.0.0.0/104` as `10.0.0.0/8`, since mapped addresses are compared as IPv4."""
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.ip_network((mapped, network.prefixlen - 96))
    return network


@lru_cache(maxsize=16)
def trusted_proxies(entries: tuple[str, ...]) -> TrustedProxies:
    """The parsed `TRUSTED_PROXIES`, built once; `ValueError` (its message the entry) for
    the first entry that is neither an address nor a network."""
    return TrustedProxies(entries)


def trusted_proxies_problem(entries: tuple[str, ...]) -> str | None:
    """Why `TRUSTED_PROXIES` cannot be used, or None (for the settings' start-up checks)."""
    try:
        trusted_proxies(entries)
    except ValueError as exc:
        return (
            f"TRUSTED_PROXIES entries must be IP addresses or networks such as 10.0.0.0/8, got {str(exc)!r}"
        )
    return None


def uvicorn_trusted_hosts(entries: tuple[str, ...]) -> list[str]:
    """`TRUSTED_PROXIES` spelled for uvicorn's `ProxyHeadersMiddleware`, so that it trusts
    exactly the peers and hops `TrustedProxies.trusts` does.

    uvicorn compares `ipaddress` objects as they are written: `::ffff:10.0.0.1` is not
    `10.0.0.1` to it, and `fe80::1%eth0` is not the address `fe80::1` (though it is in
    the network `fe80::1/128`). So each IPv4 entry comes with its IPv4-mapped IPv6 form,
    and IPv6 addresses are given as /128 networks.
    """
    proxies = trusted_proxies(entries)
    if proxies.everyone:
        return ["*"]
    spelled: list[str] = []
    for address in proxies.addresses:
        if isinstance(address, ipaddress.IPv4Address):
            spelled += [str(address), f"::ffff:{address}"]
        else:
            spelled.append(f"{address}/128")
    for network in proxies.networks:
        spelled.append(str(network))
        if isinstance(network, ipaddress.IPv4Network):
            spelled.append(f"::ffff:{network.network_address}/{network.prefixlen + 96}")
    return spelled


class ForwardedHeaders:
    """The app's outermost layer: uvicorn's `ProxyHeadersMiddleware` for `TRUSTED_PROXIES`,
    the connection's own peer kept in `scope[PEER_KEY]` (for `client_info`).

    `main.py serve` runs uvicorn with `proxy_headers=False`, so the headers are read here
    once, whether the app is served by `serve`, `uvicorn --factory app.asgi:...` or an
    httpx test.
    """

    def __init__(self, app: ASGIApp, trusted_proxies: tuple[str, ...]) -> None:
        # uvicorn types ASGI apps with its own TypedDicts; Starlette's are plain mappings.
        hosts = uvicorn_trusted_hosts(trusted_proxies)
        self.app: ASGIApp = cast(Any, ProxyHeadersMiddleware(cast(Any, app), trusted_hosts=hosts))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            # The first layer's peer wins: wrapped twice, the inner one sees a resolved client.
            scope.setdefault(PEER_KEY, scope.get("client"))
        await self.app(scope, receive, send)


def _nearest_trusted_hop(conn: HTTPConnection, peer: tuple[str, int] | None) -> str | None:
    """The client when uvicorn took a forwarded hop that is no address: the last address
    believed, that is the hop right of it (uvicorn walks only past trusted proxies, so
    every hop right of the one it took is one), else the peer itself. What is left of a
    garbled hop is the client's own writing."""
    believed = normalise_ip(peer[0]) if peer else None
    hops = ",".join(conn.headers.getlist("x-forwarded-for")).split(",")
    for hop in reversed(hops):
        address = parse_ip(hop)
        if address is None:
            break
        believed = str(address)
    return believed


def client_info(conn: HTTPConnection, settings: Settings) -> ClientInfo:
    """The client as `ForwardedHeaders` resolved it: `scope["client"]`, in canonical
    form, and `scope["scheme"]`.

    A forwarded hop that is not an address (uvicorn hands on whatever text a trusted
    proxy forwarded) is never the client: the nearest trusted proxy is. A peer that is
    not an address (a Unix socket) gives `ip=None`, counted as `UNKNOWN_IP`. `settings`
    is not read any more (`ForwardedHeaders` applied `TRUSTED_PROXIES`); callers pass it.
    """
    scope = conn.scope
    # Read the scope directly: building `conn.url` costs more than the rest together.
    client = scope.get("client")
    ip = normalise_ip(client[0]) if client else None  # one cached look-up
    if ip is None and client is not None and client is not scope.get(PEER_KEY, client):
        ip = _nearest_trusted_hop(conn, scope[PEER_KEY])
    user_agent = conn.headers.get("user-agent")
    if user_agent is not None:
        user_agent = _printable(user_agent[:MAX_USER_AGENT])
    return ClientInfo(ip=ip, is_https=scope.get("scheme") in ("https", "wss"), user_agent=user_agent)


def _printable(text: str) -> str | None:
    """`text` without control characters (PostgreSQL refuses a NUL in text); None if empty."""
    if not text.isprintable():
        text = "".join(c for c in text if c.isprintable())
    return text or None


def rate_limit_key(ip: str | None, ipv6_prefix: int) -> str:
    """What the per-IP limits count `ip` under: an IPv4 address, the IPv6 network of
    `ipv6_prefix` bits holding it (one subscriber gets a whole /64 or more, so single
    IPv6 addresses cost an attacker nothing), or `UNKNOWN_IP`.

    A 6to4 (2002::/16) or Teredo (2001::/32) address counts as the IPv4 address it
    carries: a 6to4 site holds a /48 (65,536 /64s) per IPv4 address, and a Teredo /64 is
    the relay server's, shared by all its clients, who differ in the low bits."""
    address = parse_ip(ip)
    if address is None:
        return UNKNOWN_IP
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None:
            return str(embedded)
        if ipv6_prefix < 128:
            return str(ipaddress.IPv6Network((address, ipv6_prefix), strict=False))
    return str(address)
