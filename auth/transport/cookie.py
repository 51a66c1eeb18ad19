"""Writing the session cookie: HttpOnly, SameSite=Lax, Path=/; `__Host-` and Secure in
production. Also the flow cookie that binds a provider sign-in to its browser.

Only the HTTP face (`web/`, `auth/middleware.py`) imports this module: nothing else
writes a cookie (an import contract in pyproject.toml). Reading it is
`auth.transport.base.CookieTransport`.
"""

from __future__ import annotations

from starlette.responses import Response

from auth.transport.base import FLOW_COOKIE_MAX_AGE, flow_cookie_name
from core.settings import Settings


def write_session_cookie(response: Response, settings: Settings, session_id: str) -> None:
    """Set the cookie that carries a new session id."""
    response.set_cookie(
        settings.session_cookie_name,
        session_id,
        max_age=settings.session_absolute_timeout,
        path="/",
        secure=settings.production,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    """Tell the browser to drop the session cookie."""
    response.delete_cookie(
        settings.session_cookie_name,
        path="/",
        secure=settings.production,
        httponly=True,
        samesite="lax",
    )


def clearing_cookie_header(settings: Settings) -> tuple[bytes, bytes]:
    """The raw `Set-Cookie` header that clears the session cookie (for ASGI middleware)."""
    response = Response()
    clear_session_cookie(response, settings)
    return next(h for h in response.raw_headers if h[0] == b"set-cookie")


def flow_cookie_headers(settings: Settings, binding: str) -> list[tuple[bytes, bytes]]:
    """The raw `Set-Cookie` header of the flow cookie (a provider sign-in's browser
    binding): HttpOnly, SameSite=Lax (the provider's redirect back is a top-level GET, which
    carries it), Path=/, ten minutes; `__Host-` and Secure in production."""
    response = Response()
    response.set_cookie(
        flow_cookie_name(settings),
        binding,
        max_age=FLOW_COOKIE_MAX_AGE,
        path="/",
        secure=settings.production,
        httponly=True,
        samesite="lax",
    )
    return [h for h in response.raw_headers if h[0] == b"set-cookie"]


def session_cookie_headers(settings: Settings, session_id: str | None) -> list[tuple[bytes, bytes]]:
    """The raw `Set-Cookie` header that sets (`session_id`) or clears (`None`) the cookie."""
    response = Response()
    if session_id is None:
        clear_session_cookie(response, settings)
    else:
        write_session_cookie(response, settings, session_id)
    return [h for h in response.raw_headers if h[0] == b"set-cookie"]
