"""The session cookie: HttpOnly, SameSite=Lax, Path=/; `__Host-` and Secure in production."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.responses import Response

from core.settings import Settings


def read_session_cookie(conn: HTTPConnection, settings: Settings) -> str | None:
    """The session id from the request's cookie, or `None`."""
    return conn.cookies.get(settings.session_cookie_name) or None


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
