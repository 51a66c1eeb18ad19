"""Another provider's JWTs as bearer credentials (`TRUSTED_ISSUERS`, contract section 10).

A `Bearer` token whose `iss` (read unverified, only to choose who verifies it) is a
trusted issuer is verified here, and only here: its signature by the issuer's JWKS under
an asymmetric algorithm, `iss`, `aud` (the configured audience), `exp` and `iat`. It is
then a credential of the local user linked to its `sub` (kind `EXTERNAL`); an unlinked
`sub`, a revoked link or a deactivated user is refused like a bad token (401 with the
Bearer challenge). Gatehouse's own access tokens never come here (their `iss` is
`JWT_ISSUER`, which may not be a trusted issuer, and an encrypted one names none), so
they keep their own fast path and are verified once.

The link is read through the identity cache, so revoking it (`revokeCredential`), the
user's deactivation or `logout(everywhere: true)` (which refuses the tokens issued until
then, `tokens_not_before`) are felt on the very next request.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from auth.federation.keys import KeysUnavailable
from auth.federation.providers import Federation, TrustedIssuer
from auth.federation.tokens import InvalidProviderToken, ProviderClaims, unverified_issuer
from auth.identity import EXTERNAL_AMR, EXTERNAL_KIND, Identity, Scheme
from auth.identity_cache import IdentityCache
from auth.strategy.stores import ExternalLinkStore
from core.clock import as_utc, utcnow
from core.settings import Settings

if TYPE_CHECKING:
    from core.client import ClientInfo
    from models import ExternalIdentity

logger = logging.getLogger("gatehouse.federation")


def _link_key(issuer: str, subject: str) -> str:
    return "x:" + hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()


def token_scopes(claims: ProviderClaims) -> frozenset[str] | None:
    """The scopes a provider token carries (`scope`, space-separated, or `scp`, a list
    or a string): the credential is limited to them. Without either claim, the token
    carries all of its user's rights, as Gatehouse's own access tokens do."""
    raw = claims.claims.get("scope", claims.claims.get("scp"))
    if raw is None:
        return None
    if isinstance(raw, str):
        return frozenset(raw.split())
    if isinstance(raw, list):
        return frozenset(s for s in raw if isinstance(s, str))
    return frozenset()


class TrustedIssuerStrategy:
    """Reads bearer JWTs of the trusted issuers (a `Strategy` of the `jwt` scheme)."""

    scheme = Scheme.JWT
    rejection = "Invalid, expired or unlinked access token."

    def __init__(
        self, federation: Federation, links: ExternalLinkStore, cache: IdentityCache, settings: Settings
    ) -> None:
        self.federation = federation
        self.links = links
        self.cache = cache
        self.settings = settings
        self.enabled = bool(federation.trusted_issuers)

    def issuer_of(self, token: str) -> TrustedIssuer | None:
        """The trusted issuer a bearer token names, or `None` (Gatehouse's own tokens,
        anything that is not a JWS, any other issuer). Nothing is verified here."""
        if not self.enabled:
            return None
        return self.federation.trusted_issuer(unverified_issuer(token))

    async def read_token(self, token: str, presented_as: str, client: ClientInfo) -> Identity | None:
        """The identity of a trusted issuer's token, or `None` when it does not verify,
        names no live link, or was issued before the link's `tokens_not_before`."""
        issuer = self.issuer_of(token)
        if issuer is None:
            return None
        try:
            claims = await issuer.verify(token)
        except InvalidProviderToken as refused:
            logger.info("a token of %s was refused: %s", issuer.issuer, refused.reason)
            return None
        except KeysUnavailable as exc:
            logger.warning("the keys of %s cannot be read: %s", issuer.issuer, exc)
            return None
        link = await self._live_link(issuer.issuer, claims.subject)
        if link is None:
            return None
        cut = link.tokens_not_before
        if cut is not None and (claims.issued_at is None or claims.issued_at <= as_utc(cut)):
            return None
        credential = link.credential
        user = credential.user
        now = utcnow()
        last = credential.last_used_at
        if last is None or (now - as_utc(last)).total_seconds() >= self.settings.last_used_write_interval:
            credential.last_used_at = now
            await self.links.record_use(str(credential.id), now)
        return Identity(
            user=user,
            roles=frozenset(user.roles),
            scopes=token_scopes(claims),
            scheme=Scheme.JWT,
            credential_id=str(credential.id),
            presented_as=presented_as,
            expires_at=claims.expires_at,
            auth_time=claims.auth_time,
            amr=EXTERNAL_AMR,
            credential_kind=EXTERNAL_KIND,
        )

    @staticmethod
    def _usable(link: ExternalIdentity) -> bool:
        return link.credential.revoked_at is None and bool(link.credential.user.is_active)

    async def _live_link(self, issuer: str, subject: str) -> ExternalIdentity | None:
        """The live link of (issuer, subject), through the identity cache: a cached link
        serves while its user's generation holds; one read again is cached under the
        generation of its owner only (a pair linked again may belong to another user)."""
        key = _link_key(issuer, subject)
        cached, generation = await self.cache.get(key)
        if cached is not None:
            if self._usable(cached):
                return cached  # type: ignore[no-any-return]
            self.cache.forget(key)
            _, generation = await self.cache.get(key)
        seen_owner = self.cache.owner_of(key)
        link = await self.links.find_link(issuer, subject)
        if link is None:
            return None
        owner = str(link.user_id)
        self.cache.put(key, owner, generation if seen_owner == owner else None, link)
        return link if self._usable(link) else None

    async def destroy_token(self, identity: Identity) -> None:
        """`logout` with a provider token: that token, and every one of the link issued
        until now, stops working; the link itself stays (revokeCredential ends it)."""
        if identity.credential_id is not None:
            await self.links.cut_tokens(identity.credential_id, utcnow())
