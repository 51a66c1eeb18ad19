"""Facts about the client: its IP and whether it came over HTTPS, proxies considered."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from core.settings import Settings

MAX_USER_AGENT = 256


@dataclass(frozen=True)
class ClientInfo:
    """Where a request came from."""

    ip: str | None
    is_https: bool
    user_agent: str | None


def client_info(conn: HTTPConnection, settings: Settings) -> ClientInfo:
    """Believe `X-Forwarded-For` / `X-Forwarded-Proto` only from `TRUSTED_PROXIES`."""
    # Read the scope directly: building `conn.url` costs more than the rest together.
    client = conn.scope.get("client")
    peer = client[0] if client else None
    ip = peer
    is_https = conn.scope.get("scheme") in ("https", "wss")
    if peer is not None and peer in settings.trusted_proxies:
        forwarded_for = conn.headers.get("x-forwarded-for")
        if forwarded_for:
            # The right-most address not belonging to a trusted proxy is the client.
            hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
            untrusted = [h for h in hops if h not in settings.trusted_proxies]
            ip = (untrusted or hops)[-1] if hops else peer
        proto = conn.headers.get("x-forwarded-proto")
        if proto:
            is_https = proto.split(",")[0].strip().lower() == "https"
    user_agent = conn.headers.get("user-agent")
    if user_agent is not None:
        user_agent = user_agent[:MAX_USER_AGENT]
    return ClientInfo(ip=ip, is_https=is_https, user_agent=user_agent)
