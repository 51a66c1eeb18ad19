"""Accounts at other OpenID providers (contract section 10): links, sign-in flows, spent tokens.

A linked identity is the pair (issuer, `sub`) of a provider account, bound to one local
user. Each link has a `Credential` row of kind `EXTERNAL`, so that `myCredentials` lists
it and `revokeCredential` ends it like any other credential; a revoked link no longer
signs anyone in, and the pair may then be linked again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.credentials import Credential
    from models.users import User


class ExternalIdentity(Model):
    """A provider account (issuer, subject) linked to a local user"""

    id = fields.UUIDField(primary_key=True)
    credential: fields.OneToOneRelation[Credential] = fields.OneToOneField(
        "models.Credential", related_name="external_identity", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="external_identities", on_delete=fields.CASCADE
    )
    # The OIDC_PROVIDERS name it was linked through, or the issuer for TRUSTED_ISSUERS.
    provider = fields.CharField(max_length=64)
    issuer = fields.CharField(max_length=255)
    subject = fields.CharField(max_length=255)
    # The address the provider gave when the link was made (shown to the owner only).
    email = fields.CharField(max_length=320, null=True)
    # The link the account was created with: the one way in of an account without a
    # password, kept by logout everywhere (links added later end with it).
    created_account = fields.BooleanField(default=False)
    # Provider tokens (TRUSTED_ISSUERS) issued before this moment are refused: set when
    # the user logs out everywhere while the link itself stays.
    tokens_not_before = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    credential_id: str
    user_id: str

    class Meta:
        table = "external_identities"
        unique_together = (("issuer", "subject"),)

    def __repr__(self) -> str:
        return f"<ExternalIdentity {self.provider} {self.id}>"

    __str__ = __repr__


class ExternalLoginFlow(Model):
    """One browser sign-in or link begun at a provider and not finished yet: single use, expiring"""

    # SHA-256 of the `state` sent to the provider (the state itself is never stored).
    id = fields.CharField(max_length=64, primary_key=True)
    provider = fields.CharField(max_length=64)
    # `login` (sign in or create an account) or `link` (link to `user`).
    purpose = fields.CharField(max_length=8)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="external_login_flows", on_delete=fields.CASCADE, null=True
    )
    # The credential (session or refresh family) that began a `link` flow: the callback
    # links only while it is live, so a logout everywhere or a password change ends the
    # links still pending too (a flow begun with a stolen session must not outlive it).
    # SET NULL, not CASCADE: a deleted credential (a session replaced by a new sign-in)
    # leaves the flow to be refused at the callback with the same answer on every
    # database, whether it enforces foreign keys or not.
    credential: fields.ForeignKeyNullableRelation[Credential] = fields.ForeignKeyField(
        "models.Credential", related_name="link_flows", on_delete=fields.SET_NULL, null=True
    )
    nonce = fields.CharField(max_length=128)
    code_verifier = fields.CharField(max_length=128)
    # The callback URL sent to the provider, sent again with the code.
    redirect_uri = fields.CharField(max_length=2048)
    # Where the browser goes once the flow is over, checked when the flow began.
    redirect_to = fields.CharField(max_length=2048, null=True)
    # SHA-256 of the random value of the browser's flow cookie: only that browser may finish.
    binding_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)

    user_id: str | None
    credential_id: str | None

    class Meta:
        table = "external_login_flows"

    def __repr__(self) -> str:
        return f"<ExternalLoginFlow {self.provider} {self.purpose}>"

    __str__ = __repr__


class SpentIdToken(Model):
    """An ID token already used by loginWithIdToken, kept until it expires so it is used once"""

    # SHA-256 of the token.
    id = fields.CharField(max_length=64, primary_key=True)
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "spent_id_tokens"

    def __repr__(self) -> str:
        return "<SpentIdToken>"

    __str__ = __repr__
