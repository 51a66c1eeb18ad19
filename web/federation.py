"""`GET /auth/callback/{provider}`: where a provider sends the browser back (contract section 10).

The flow itself is the service's (services/external_identities.py `finish_flow`); this
endpoint reads what the browser brought (the query, the flow cookie, the identity the
authentication middleware put in the scope), writes the session cookie through the
transport (auth/transport/cookie.py) and answers: a redirect (303) to the flow's
`redirectTo`, or a small page when it has none. A failure is never a 500: it goes back
to `redirectTo` with `?error=<code>` (and `reason=` for `account_link_required`) when the
flow was known, or it is a page naming the code (docs/FEDERATION.md lists them).
"""

from __future__ import annotations

import html
import logging
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from auth.backend import AuthBackend
from auth.middleware import identity_of
from auth.transport.base import read_flow_binding
from auth.transport.cookie import session_cookie_headers
from core.scope import client_of
from core.settings import Settings
from services import external_identities
from services.external_identities import FlowFailed, FlowOutcome

logger = logging.getLogger("gatehouse.federation")

# What the browser's page says for each code (docs/FEDERATION.md).
MESSAGES = {
    external_identities.INVALID_REQUEST: "The provider's answer was incomplete.",
    external_identities.INVALID_STATE: (
        "This sign-in is unknown, expired, already used, or was started in another browser. "
        "Start again from the application."
    ),
    external_identities.ISSUER_MISMATCH: (
        "The answer did not come from the provider the sign-in began with."
    ),
    external_identities.PROVIDER_ERROR: "The provider did not sign you in (you may have cancelled).",
    external_identities.CODE_REJECTED: "The provider refused to complete the sign-in. Start again.",
    external_identities.INVALID_ID_TOKEN: "The provider's answer could not be verified.",
    external_identities.ACCOUNT_LINK_REQUIRED: (
        "No account was created or joined. If you have an account with this email address, sign in "
        "to it and link this provider; otherwise register, then link it."
    ),
    external_identities.IDENTITY_IN_USE: "This provider account is already linked to another account.",
    external_identities.ACCOUNT_DISABLED: "This account cannot be used.",
    external_identities.EMAIL_NOT_VERIFIED: "Verify your email address before signing in.",
    external_identities.SESSION_MISMATCH: (
        "You are signed in as someone else than the account you are linking."
    ),
    external_identities.PROVIDER_UNAVAILABLE: "The provider cannot be reached right now; try again shortly.",
    external_identities.UNKNOWN_PROVIDER: "This provider is not configured here.",
    external_identities.FORBIDDEN_REDIRECT: "The page to return to is not allowed any more.",
    external_identities.SERVER_ERROR: "Something went wrong on our side; try again shortly.",
}
# Failures that are the server's or the provider's, not the browser's.
UNAVAILABLE_CODES = frozenset({external_identities.PROVIDER_UNAVAILABLE, external_identities.SERVER_ERROR})
# A page of ours holds no script, loads nothing, and is never cached or framed.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


def with_query(url: str, **params: str) -> str:
    """`url` with `params` added to its query."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def _page(title: str, text: str, status: int, code: str | None = None) -> Response:
    coded = f'<p>Error code: <code id="error">{html.escape(code)}</code></p>' if code else ""
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(text)}</p>{coded}</body></html>"
    )
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)


def failure_response(failed: FlowFailed) -> Response:
    """Back to `redirectTo` with the code, or the error page."""
    if failed.redirect_to is not None:
        extra = {"reason": failed.reason} if failed.reason else {}
        target = with_query(failed.redirect_to, error=failed.code, **extra)
        return RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)
    status = 503 if failed.code in UNAVAILABLE_CODES else 400
    message = MESSAGES.get(failed.code, MESSAGES[external_identities.SERVER_ERROR])
    return _page("Sign-in failed", message, status, failed.code)


def success_response(outcome: FlowOutcome, settings: Settings) -> Response:
    """Where the browser goes once signed in (the new session's cookie set) or linked."""
    if outcome.redirect_to is not None:
        response: Response = RedirectResponse(outcome.redirect_to, status_code=303, headers=PAGE_HEADERS)
    elif outcome.purpose == external_identities.LINK:
        response = _page(
            "Provider linked", "The provider is linked to your account; you may close this tab.", 200
        )
    else:
        response = _page("Signed in", "You are signed in; you may close this page.", 200)
    if outcome.sign_in is not None and outcome.sign_in.session_id is not None:
        response.raw_headers.extend(session_cookie_headers(settings, outcome.sign_in.session_id))
    return response


class ExternalCallback:
    """The callback endpoint, as a plain ASGI app behind the authentication middleware."""

    def __init__(self, settings: Settings, backend: AuthBackend) -> None:
        self.settings = settings
        self.backend = backend

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        # GET alone: a HEAD (a link checker, a prefetch) must not spend the flow.
        if request.method != "GET":
            await Response(status_code=405, headers={"Allow": "GET", **PAGE_HEADERS})(scope, receive, send)
            return
        client = client_of(scope, self.settings)
        backend = self.backend
        try:
            outcome = await external_identities.finish_flow(
                backend.federation,
                backend.sessions,
                backend.identity_cache,
                request.path_params["provider"],
                dict(request.query_params),
                read_flow_binding(request, self.settings),
                identity_of(scope),
                own_origins=external_identities.server_origins(
                    request.headers.get("host", ""), client.is_https, self.settings.public_url
                ),
                allowed_origins=self.settings.allowed_origins,
                client=client,
                require_verified_email=self.settings.require_verified_email,
            )
        except FlowFailed as failed:
            response = failure_response(failed)
        except Exception:  # a callback is answered with a page, never a 500
            logger.exception("a provider callback failed")
            response = failure_response(FlowFailed(external_identities.SERVER_ERROR))
        else:
            response = success_response(outcome, self.settings)
        await response(scope, receive, send)
