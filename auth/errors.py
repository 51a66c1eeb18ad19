"""Authentication failures that stop a request before anything executes."""

from __future__ import annotations

from core.errors import Unauthenticated


class CredentialRejected(Unauthenticated):
    """Credentials in the Authorization header are malformed, wrong, expired or revoked.

    `scheme` names the scheme the request used, so the 401 challenge names it too
    (and names `Basic` only when the request itself used Basic).
    """

    def __init__(self, message: str, scheme: str) -> None:
        super().__init__(message)
        self.scheme = scheme
