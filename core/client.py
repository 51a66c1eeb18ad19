"""Facts about the client: its IP and whether it came over HTTPS, proxies considered.

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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

    from core.settings import Settings

MAX_USER_AGENT = 256
MAX_FORWARDED_HOPS = 32  # the right-most hops looked at; nobody chains more proxies
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
    address = parse_ip(text)
    return None if address is None else str(address)


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
        # Keyed by text: hashing an address object costs more than the rest of a lookup.
        self.classify = lru_cache(maxsize=4096)(self._classify)

    def trusts(self, address: IPAddress) -> bool:
        """Whether `address` (canonical, see `parse_ip`) is a trusted proxy."""
        return self.everyone or address in self.addresses or any(address in net for net in self.networks)

    def _classify(self, text: str) -> tuple[str, bool] | None:
        address = parse_ip(text)
        return None if address is None else (str(address), self.trusts(address))


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


def forwarded_client(forwarded_for: str, peer: str, proxies: TrustedProxies) -> str:
    """The client a trusted `peer` reports in `X-Forwarded-For`.

    Each proxy appends the address it was reached from, so the list is read from the
    right: the first hop that is not a trusted proxy is the client. A hop that is not an
    address ends the walk: the client is then the last address believed (the nearest
    trusted proxy), since anything left of a garbled hop is the client's own writing.
    """
    client = peer
    for hop in reversed(forwarded_for.split(",")[-MAX_FORWARDED_HOPS:]):
        facts = proxies.classify(hop.strip()) if len(hop) <= MAX_ADDRESS_TEXT else None
        if facts is None:
            break
        client, trusted = facts
        if not trusted:
            break
    return client


def client_info(conn: HTTPConnection, settings: Settings) -> ClientInfo:
    """Believe `X-Forwarded-For` / `X-Forwarded-Proto` only from `TRUSTED_PROXIES`."""
    # Read the scope directly: building `conn.url` costs more than the rest together.
    client = conn.scope.get("client")
    proxies = trusted_proxies(settings.trusted_proxies)
    # One cached look-up per request: the peer's spelling and whether it is a proxy.
    facts = proxies.classify(client[0]) if client and len(client[0]) <= MAX_ADDRESS_TEXT else None
    ip = None if facts is None else facts[0]
    is_https = conn.scope.get("scheme") in ("https", "wss")
    if facts is not None and facts[1]:
        assert ip is not None
        forwarded_for = conn.headers.get("x-forwarded-for")
        if forwarded_for:
            ip = forwarded_client(forwarded_for, ip, proxies)
        proto = conn.headers.get("x-forwarded-proto")
        if proto:
            is_https = proto.split(",")[0].strip().lower() == "https"
    user_agent = conn.headers.get("user-agent")
    if user_agent is not None:
        user_agent = _printable(user_agent[:MAX_USER_AGENT])
    return ClientInfo(ip=ip, is_https=is_https, user_agent=user_agent)


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
