"""Account recovery and email (contract section 11): verify an address, reset a forgotten
password, move the account to a new address.

Each flow has two halves. A *request* (`request_password_reset`, ...) checks its input
and its limits, hands the outbox a job and answers: the job, run in the background
after the answer, finds the account, makes the token and renders the mail. So a reset
requested for an unknown address runs exactly the request path of a known one, and
the answer and its timing tell nothing (the job for an unknown address sends nothing).
A *use* (`verify_email`, ...) spends a mailed token: a used, expired or unknown token is
`BadUserInput` on `token`, with one message for all three. Every request and use is
audited, by user id, never by address.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.exceptions import IntegrityError

from auth.basic_cache import BasicCache
from auth.identity import Identity
from auth.identity_cache import IdentityCache
from auth.passwords import PasswordHasher, has_password, password_too_long
from auth.ratelimit import LoginLimiter
from core.client import ClientInfo
from core.clock import utcnow
from core.errors import BadUserInput, EmailNotVerified, RateLimited
from core.settings import Settings
from models import TokenPurpose, User
from services import account_tokens, credentials, external_identities
from services.audit import audit
from services.mail import Mail, Outbox
from services.mail_templates import (
    CONFIRM_EMAIL_CHANGE,
    EMAIL_CHANGED_NOTICE,
    RESET_PASSWORD,
    VERIFY_EMAIL,
)
from services.validation import check_password, normalise_email

INVALID_TOKEN = "This link is invalid, expired or already used; ask for a new one."
WRONG_PASSWORD = "The current password is wrong."
VERIFY_FIRST = (
    "Verify your email address first: open the link we mailed you (a new one is on its way), then sign in."
)
CREATED_VERIFY_FIRST = (
    "Your account was created. Verify your email address with the link we mailed you, then sign in."
)
# The pages that finish each flow (web/account_pages.py), under PUBLIC_URL.
VERIFY_PATH = "/verify-email"
RESET_PATH = "/reset-password"
CHANGE_PATH = "/confirm-email-change"


@dataclass(frozen=True)
class AccountMail:
    """The flows of section 11, with what they share: the outbox, the limits, the link base."""

    outbox: Outbox
    limiter: LoginLimiter
    settings: Settings

    @property
    def verification_required(self) -> bool:
        """`REQUIRE_VERIFIED_EMAIL`: sign-in waits until the address is verified."""
        return self.settings.require_verified_email

    def _link(self, path: str, token: str) -> str:
        return f"{self.settings.link_base}{path}?token={token}"

    # -- verification ---------------------------------------------------------------------

    def _queue_verification(self, user_id: str, client: ClientInfo | None) -> None:
        async def job() -> Mail | None:
            user = await User.filter(id=user_id).first()
            if user is None or user.email_verified_at is not None:
                return None
            token = await account_tokens.issue(user_id, TokenPurpose.VERIFY_EMAIL, user.email)
            audit("email_verification_sent", client, user_id=user_id)
            return VERIFY_EMAIL.render(
                user.email, username=user.username, link=self._link(VERIFY_PATH, token)
            )

        self.outbox.submit("email verification", job)

    async def welcome(self, user: User, client: ClientInfo | None) -> None:
        """After `register`: mail the verification link; with `REQUIRE_VERIFIED_EMAIL`,
        `EmailNotVerified` instead of the sign-in (the account exists, the link is sent)."""
        self._queue_verification(str(user.id), client)
        if self.verification_required:
            raise EmailNotVerified(CREATED_VERIFY_FIRST)

    async def check_may_sign_in(self, user: User, client: ClientInfo | None) -> None:
        """Every sign-in with a password calls this once the password was right: with
        `REQUIRE_VERIFIED_EMAIL` and an unverified address, a fresh link is mailed (within
        `MAIL_LIMIT_PER_ADDRESS`, silently past it) and `EmailNotVerified` stops the sign-in."""
        if not self.verification_required or user.email_verified_at is not None:
            return
        try:
            await self.limiter.mail_attempt(user.email_key, client.ip if client else None)
        except RateLimited:
            pass  # the links already sent still work; the answer stays the same
        else:
            self._queue_verification(str(user.id), client)
        audit("login_unverified", client, user_id=user.id)
        raise EmailNotVerified(VERIFY_FIRST)

    async def request_verification(self, identity: Identity, client: ClientInfo) -> None:
        """`requestEmailVerification`: mail a new link to the caller's address (older
        links end); nothing is sent for an address already verified."""
        user = identity.user
        assert user is not None
        await self.limiter.mail_attempt(user.email_key, client.ip)
        self._queue_verification(str(user.id), client)

    async def verify_email(self, identity_cache: IdentityCache, token: str, client: ClientInfo) -> None:
        """`verifyEmail`: the address the link was mailed to is verified, if it is still
        the account's; the next request of every credential of the user sees it."""
        row = await account_tokens.find_live(token, TokenPurpose.VERIFY_EMAIL)
        if row is None or row.user.email_key != row.email.lower() or not await account_tokens.spend(row):
            audit("email_verify_refused", client)
            raise BadUserInput({"token": INVALID_TOKEN})
        user_id = str(row.user_id)
        await User.filter(id=user_id, email_verified_at=None).update(email_verified_at=utcnow())
        await identity_cache.invalidate_user(user_id)
        audit("email_verify", client, user_id=user_id)

    # -- password reset ---------------------------------------------------------------------

    async def request_password_reset(self, email: str, client: ClientInfo) -> None:
        """`requestPasswordReset`: the same work and answer for every valid address.

        Counted per IP and per address (`RateLimited` past either), then queued: the job
        looks the address up after the answer, and mails a link only to an active account.
        """
        normalised, problem = normalise_email(email)
        if problem or normalised is None:
            raise BadUserInput({"email": problem or "Enter a valid email address."})
        email_key = normalised.lower()
        await self.limiter.mail_attempt(email_key, client.ip)

        async def job() -> Mail | None:
            user = await User.filter(email_key=email_key, is_active=True).first()
            if user is None:
                audit("password_reset_request", client, user_id=None)
                return None
            token = await account_tokens.issue(str(user.id), TokenPurpose.RESET_PASSWORD, user.email)
            audit("password_reset_request", client, user_id=user.id)
            return RESET_PASSWORD.render(
                user.email, username=user.username, link=self._link(RESET_PATH, token)
            )

        self.outbox.submit("password reset", job)

    async def reset_password(
        self,
        hasher: PasswordHasher,
        identity_cache: IdentityCache,
        basic_cache: BasicCache,
        token: str,
        new_password: str,
        client: ClientInfo,
    ) -> None:
        """`resetPassword`: set the new password and end every credential of the user.

        A password the rules refuse is `BadUserInput` on `newPassword` and leaves the token
        usable. The reset proves the mailbox, so the address counts as verified; pending
        email changes and other reset links end (whoever started them is shut out too).
        """
        row = await account_tokens.find_live(token, TokenPurpose.RESET_PASSWORD)
        if row is None or not row.user.is_active or row.user.email_key != row.email.lower():
            audit("password_reset_refused", client)
            raise BadUserInput({"token": INVALID_TOKEN})
        user = row.user
        if message := await check_password(new_password, user.username, user.email):
            raise BadUserInput({"newPassword": message})
        if not await account_tokens.spend(row):
            audit("password_reset_refused", client)
            raise BadUserInput({"token": INVALID_TOKEN})
        user_id = str(user.id)
        now = utcnow()
        await User.filter(id=user_id).update(
            password_hash=await hasher.hash(new_password), password_changed_at=now
        )
        await User.filter(id=user_id, email_verified_at=None).update(email_verified_at=now)
        await account_tokens.void(user_id, (TokenPurpose.RESET_PASSWORD, TokenPurpose.CHANGE_EMAIL))
        # After the writes: every credential ends, the caches with them.
        await credentials.revoke_all(identity_cache, basic_cache, user_id)
        audit("password_reset", client, user_id=user_id)

    # -- email change -----------------------------------------------------------------------

    async def request_email_change(
        self,
        hasher: PasswordHasher,
        identity: Identity,
        new_email: str,
        current_password: str,
        client: ClientInfo,
    ) -> None:
        """`requestEmailChange`: with the current password (a guess like any login, so it
        counts against the login limits), mail a confirmation link to the new address.
        The account keeps its address until the link is used."""
        user = identity.user
        assert user is not None
        await self.limiter.login_attempt(user.username, client.ip)
        if not has_password(user.password_hash):
            # An account made through a provider: a recent sign-in through it stands for
            # the password it does not have (docs/FEDERATION.md).
            if not external_identities.proves_provider_sign_in(identity):
                audit("email_change_refused", client, user_id=user.id)
                raise BadUserInput({"currentPassword": external_identities.NO_PASSWORD_PROOF})
        elif password_too_long(current_password) or not await hasher.verify(
            current_password, user.password_hash
        ):
            audit("email_change_refused", client, user_id=user.id)
            raise BadUserInput({"currentPassword": WRONG_PASSWORD})
        await self.limiter.login_succeeded(user.username)
        normalised, problem = normalise_email(new_email)
        if problem or normalised is None:
            raise BadUserInput({"newEmail": problem or "Enter a valid email address."})
        email_key = normalised.lower()
        if email_key == user.email_key:
            raise BadUserInput({"newEmail": "This is the account's address already."})
        if await User.filter(email_key=email_key).exists():
            raise BadUserInput({"newEmail": "This email is already registered."})
        await self.limiter.mail_attempt(email_key, client.ip)
        user_id, username = str(user.id), user.username

        async def job() -> Mail | None:
            token = await account_tokens.issue(user_id, TokenPurpose.CHANGE_EMAIL, normalised)
            return CONFIRM_EMAIL_CHANGE.render(
                normalised, username=username, link=self._link(CHANGE_PATH, token)
            )

        self.outbox.submit("email change", job)
        audit("email_change_request", client, user_id=user_id)

    async def confirm_email_change(
        self,
        identity_cache: IdentityCache,
        basic_cache: BasicCache,
        token: str,
        client: ClientInfo,
    ) -> None:
        """`confirmEmailChange`: the account moves to the address the link was mailed to
        (verified by this very use), the old address is told, and the tokens mailed to the
        old address end."""
        row = await account_tokens.find_live(token, TokenPurpose.CHANGE_EMAIL)
        if row is None or not row.user.is_active or not await account_tokens.spend(row):
            audit("email_change_refused", client)
            raise BadUserInput({"token": INVALID_TOKEN})
        user = row.user
        user_id, old_email = str(user.id), user.email
        new_email = row.email
        try:
            await User.filter(id=user_id).update(
                email=new_email, email_key=new_email.lower(), email_verified_at=utcnow()
            )
        except IntegrityError:
            # Registered by another account since the request: the unique column decided.
            raise BadUserInput({"token": "This address now belongs to another account."}) from None
        await account_tokens.void(user_id, tuple(TokenPurpose))
        await basic_cache.forget_user(user_id)  # a Basic header may name the old address
        await identity_cache.invalidate_user(user_id)
        notice = EMAIL_CHANGED_NOTICE.render(old_email, username=user.username, new_email=new_email)

        async def job() -> Mail | None:
            return notice

        self.outbox.submit("email changed notice", job)
        audit("email_change", client, user_id=user_id)
