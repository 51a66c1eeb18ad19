"""The `Authorization` header: parsed once, into a scheme and a value."""

from __future__ import annotations

from dataclasses import dataclass

from auth.errors import CredentialRejected

MAX_HEADER_BYTES = 8 * 1024  # longer values are refused before any parsing

# Sent when the request carried no header credential (a failed login, a missing one).
PLAIN_CHALLENGE = 'Bearer realm="gatehouse"'
CHALLENGES = {
    "Bearer": 'Bearer realm="gatehouse", error="invalid_token"',
    "Token": 'Token realm="gatehouse"',
    "Basic": 'Basic realm="gatehouse", charset="UTF-8"',
}


@dataclass(frozen=True)
class HeaderCredential:
    """A credential from the header: `scheme` is "Bearer", "Token" or "Basic"."""

    scheme: str
    value: str

    def __repr__(self) -> str:  # the value is a secret
        return f"HeaderCredential({self.scheme}, '***')"


def read_authorization(header: str | None) -> HeaderCredential | None:
    """Parse an `Authorization` header; `None` when absent, `CredentialRejected` when malformed."""
    if header is None:
        return None
    # Only the scheme word is looked at before the size check, so the challenge of an
    # oversized header still names the scheme the request used.
    scheme_word = header.lstrip()[:16].partition(" ")[0]
    canonical = {"bearer": "Bearer", "token": "Token", "basic": "Basic"}.get(scheme_word.lower())
    if len(header) > MAX_HEADER_BYTES:
        raise CredentialRejected("The Authorization header is too long.", canonical or "Bearer")
    value = header.strip().partition(" ")[2]
    if canonical is None:
        raise CredentialRejected("Unsupported Authorization scheme; use Bearer, Token or Basic.", "Bearer")
    value = value.strip()
    if not value:
        raise CredentialRejected(f"The {canonical} credential is empty.", canonical)
    return HeaderCredential(canonical, value)
