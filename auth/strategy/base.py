"""The protocol every request strategy shares (the shape of fastapi-users' `Strategy`).

A strategy says what a credential is and how it is verified; a transport says how it
travels. `auth.methods.AuthMethod` joins one of each, and `auth.authenticate.Authenticator`
runs the joined pairs. Issuing differs too much between kinds to share a signature
(a session needs the client, an API token a name, scopes and a lifetime), so each
strategy names its own `write_token`; reading and ending are common to all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from auth.identity import Identity, Scheme
    from core.client import ClientInfo


class Strategy(Protocol):
    """Reads a credential into an identity, and ends one."""

    # The `AUTH_SCHEMES` name the strategy answers to.
    scheme: Scheme
    # What a client is told when the credential it presented is refused.
    rejection: str

    async def read_token(self, token: str, presented_as: str, client: ClientInfo) -> Identity | None:
        """The identity `token` stands for, `presented_as` ("Bearer", "cookie"...), or
        `None` when it is unknown, expired or revoked. Raises `CredentialRejected` only for
        a value that cannot be a credential of this kind at all (malformed)."""
        ...

    async def destroy_token(self, identity: Identity) -> None:
        """End the credential `identity` came with (logout); the caller moves the user's
        identity-cache generation afterwards."""
        ...
