"""The Host check: a request must name one of the server's own hosts (DNS rebinding).

A page on `evil.example` can re-point its own name at the server's address; the browser
then sends `Host: evil.example` and `Origin: http://evil.example`, which looks
same-origin to any check built from the Host header (schema/view.py `_same_origin`).
Refusing hosts the server does not serve closes that path before anything runs.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable

from cachetools import FIFOCache
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from core.errors import BadRequest, error_body
from core.media import APPLICATION_JSON, negotiate

HOST_REFUSED = "The Host header names a host this server does not serve."
# Probes from orchestrators name the pod's address as the host; the answer says no more
# than whether the database answers.
EXEMPT_PATHS = frozenset({"/healthz"})
_HOSTNAME = re.compile(rb"[a-z0-9.-]+")
MAX_SEEN = 64  # distinct allowed `Host` values remembered (names times ports in use)
# Python's codec implements IDNA 2003, browsers UTS 46: they spell names holding these
# (ß, final sigma, zero-width non-joiner and joiner) differently, so such a name would never match.
_IDNA_DEVIATIONS = frozenset("\u00df\u03c2\u200c\u200d")
_ASCII_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?")


def ascii_host(name: str) -> str:
    """`name` as browsers write it in `Host` and `Origin`: lower-case, each non-ASCII label in
    its IDNA form (`bücher.example` is `xn--bcher-kva.example`), an IPv6 address in brackets,
    a leading `*.` kept. `ValueError` (its message the reason) when it has no such spelling.

    For start-up only: requests are matched on bytes by `HostCheck`.
    """
    name = name.strip().lower()
    if name.startswith("[") or ":" in name:
        try:
            return f"[{ipaddress.IPv6Address(name.removeprefix('[').removesuffix(']')).compressed}]"
        except ValueError:
            raise ValueError("it is neither a host name nor an IPv6 address") from None
    prefix = "*." if name.startswith("*.") else ""
    name = name.removeprefix(prefix)
    if _IDNA_DEVIATIONS.intersection(name):
        raise ValueError("browsers and IDNA 2003 spell it differently; write its xn-- form")
    try:
        spelled = name.encode("idna").decode("ascii")
    except UnicodeError:
        reason = "it has an empty label, a label over 63 characters or a character IDNA refuses"
        raise ValueError(reason) from None
    if not _ASCII_NAME.fullmatch(spelled):
        raise ValueError("a host name holds letters, digits, hyphens, underscores and dots only")
    return prefix + spelled


def host_name(value: bytes) -> bytes:
    """The host of a `Host` header without its port, lower-case (`[::1]` keeps its brackets).

    Anything malformed comes out as a name no allowed host equals.
    """
    if value.endswith(b"]"):
        return value.lower()
    name, colon, port = value.rpartition(b":")
    if not colon:
        return value.lower()
    return name.lower() if port.isdigit() or not port else b""


class HostCheck(TrustedHostMiddleware):
    """Starlette's `TrustedHostMiddleware`, with one set lookup per request and the refusal
    in GraphQL JSON (400, `BAD_REQUEST`, no `data` entry, in the media type `Accept` asks for).

    Hosts are matched without the port, as Starlette and Django do; `*.example.com`
    matches the sub-domains of `example.com`; `*` lets everything through. Only the
    `Host` header is read: `X-Forwarded-Host` is not believed (a proxy passes `Host` on).
    """

    def __init__(
        self, app: ASGIApp, allowed_hosts: Iterable[str], exempt_paths: frozenset[str] = EXEMPT_PATHS
    ) -> None:
        names = [p if p == "*" else ascii_host(p) for p in allowed_hosts]
        super().__init__(app, allowed_hosts=names, www_redirect=False)
        self.exact = frozenset(p.encode("ascii") for p in self.allowed_hosts if not p.startswith("*"))
        self.suffixes = tuple(p[1:].encode("ascii") for p in self.allowed_hosts if p.startswith("*."))
        self.exempt_paths = exempt_paths
        # `Host` values seen and allowed, as sent (port included): one membership test for
        # the next request naming them. Only allowed values enter, at most MAX_SEEN; when
        # full the oldest goes (first in, first out: a hit is a plain `in`, and a value in
        # use that a flood of other ports pushed out comes back after one check).
        self.seen: FIFOCache[bytes, bool] = FIFOCache(MAX_SEEN)

    def allows(self, value: bytes) -> bool:
        """Whether the `Host` header `value` names an allowed host (remembered when it does)."""
        name = host_name(value)
        allowed = name in self.exact or bool(
            self.suffixes and name.endswith(self.suffixes) and _HOSTNAME.fullmatch(name)
        )
        if allowed:
            self.seen[value] = True
        return allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.allow_any:
            await super().__call__(scope, receive, send)  # lifespan passes; websockets: Starlette's check
            return
        host = b""
        for key, value in scope["headers"]:
            if key == b"host":
                host = value
                break
        if host in self.seen or self.allows(host) or scope["path"] in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        accept = next((v for k, v in scope["headers"] if k == b"accept"), b"").decode("latin-1")
        media = negotiate(accept) or APPLICATION_JSON
        refusal = Response(
            json.dumps(error_body(BadRequest(HOST_REFUSED))),
            status_code=400,
            media_type=media.content_type,
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )
        await refusal(scope, receive, send)
