"""Links to other providers' accounts as the trusted-issuer strategy reads them: the ORM
side of `auth.strategy.stores.ExternalLinkStore`."""

from __future__ import annotations

from datetime import datetime

from models import Credential, ExternalIdentity


class ExternalLinkRows:
    """Reads links and records their use (`ExternalLinkStore`)."""

    async def find_link(self, issuer: str, subject: str) -> ExternalIdentity | None:
        """The link of (issuer, subject) with its credential and user, in one query."""
        return (
            await ExternalIdentity.filter(issuer=issuer, subject=subject)
            .select_related("credential__user")
            .first()
        )

    async def record_use(self, credential_id: str, at: datetime) -> None:
        """Store `at` as the link's last use."""
        await Credential.filter(id=credential_id).update(last_used_at=at)

    async def cut_tokens(self, credential_id: str, at: datetime) -> None:
        """Refuse the link's provider tokens issued until `at`."""
        await ExternalIdentity.filter(credential_id=credential_id).update(tokens_not_before=at)
