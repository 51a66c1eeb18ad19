"""Leaving (contract section 11): `deleteAccount` ends every credential and removes the
account's personal data; the audit log keeps the event by user id, without the address.

The user row itself is deleted, so its username, email and password hash are gone and
both can be registered again; rows that belong to the account go with it
(`erase_linked_data`, and every foreign key to `models.User` that cascades).
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from auth.basic_cache import BasicCache
from auth.identity import Identity
from auth.identity_cache import IdentityCache
from auth.passwords import PasswordHasher, has_password, password_too_long
from auth.ratelimit import LoginLimiter
from core.client import ClientInfo
from core.errors import BadUserInput
from models import AccountToken, ExternalIdentity, ExternalLoginFlow, User
from services import credentials, external_identities
from services.audit import audit

WRONG_PASSWORD = "The current password is wrong."


async def erase_linked_data(user_id: str) -> None:
    """Delete every row that ties personal data to the account, before the account itself.

    The one place to extend when a table holds data of a user: list it here, even when
    its foreign key cascades, so that what leaving removes is written down in one place.
    Linked identities go (the provider's subject and email with them), and so do the
    provider sign-ins the user began and did not finish.
    """
    await AccountToken.filter(user_id=user_id).delete()
    await ExternalIdentity.filter(user_id=user_id).delete()
    await ExternalLoginFlow.filter(user_id=user_id).delete()


async def delete_account(
    hasher: PasswordHasher,
    limiter: LoginLimiter,
    identity_cache: IdentityCache,
    basic_cache: BasicCache,
    identity: Identity,
    current_password: str,
    client: ClientInfo | None = None,
) -> None:
    """Check the current password (a guess like any login: it counts against the login
    limits), end every credential, remove the account and what belongs to it."""
    user = identity.user
    assert user is not None
    user_id = str(user.id)
    await limiter.login_attempt(user.username, client.ip if client else None)
    if not has_password(user.password_hash):
        # An account made through a provider: a recent sign-in through it stands for the
        # password it does not have (docs/FEDERATION.md).
        if not external_identities.proves_provider_sign_in(identity):
            audit("account_delete_refused", client, user_id=user_id)
            raise BadUserInput({"currentPassword": external_identities.NO_PASSWORD_PROOF})
    elif password_too_long(current_password) or not await hasher.verify(current_password, user.password_hash):
        audit("account_delete_refused", client, user_id=user_id)
        raise BadUserInput({"currentPassword": WRONG_PASSWORD})
    await limiter.login_succeeded(user.username)
    # Revoked first, so that no request can use a credential while the rows go.
    await credentials.revoke_all(identity_cache, basic_cache, user_id)
    async with in_transaction():
        await erase_linked_data(user_id)
        await User.filter(id=user_id).delete()  # credentials and their tokens cascade
    await basic_cache.forget_user(user_id)
    await identity_cache.invalidate_user(user_id)
    audit("account_delete", client, user_id=user_id)
