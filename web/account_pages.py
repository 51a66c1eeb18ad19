"""The pages a mailed link opens: `/verify-email`, `/reset-password`, `/confirm-email-change`.

Plain static pages (served in production too): each reads the link's `token`, takes it
out of the address bar, and on a button press sends it to one GraphQL mutation of this
server (`verifyEmail`, `resetPassword`, `confirmEmailChange`). Nothing is done on page
load, so a mail scanner that fetches the link spends no token. The token never leaves
the page otherwise: `Referrer-Policy: no-referrer`, no third-party asset (the policy
allows same-origin scripts, styles and requests only), `Cache-Control: no-store`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_STATIC_DIR = Path(__file__).parent / "static" / "account"

# Page path -> file; the paths are those of the links in mails (services/account_mail.py).
PAGES = {
    "/verify-email": "verify-email.html",
    "/reset-password": "reset-password.html",
    "/confirm-email-change": "confirm-email-change.html",
}
ASSETS_PATH = "/account"
ASSETS = {"account.js": "text/javascript", "account.css": "text/css"}

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


@functools.cache
def _read(name: str) -> bytes:
    return (_STATIC_DIR / name).read_bytes()


def _serve(name: str, media_type: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return Response(_read(name), media_type=media_type, headers=HEADERS)

    return endpoint


def account_page_routes() -> list[Route]:
    """The three pages and their script and stylesheet (GET and HEAD)."""
    routes = [Route(path, _serve(name, "text/html"), methods=["GET"]) for path, name in PAGES.items()]
    routes += [
        Route(f"{ASSETS_PATH}/{name}", _serve(name, media_type), methods=["GET"])
        for name, media_type in ASSETS.items()
    ]
    return routes
