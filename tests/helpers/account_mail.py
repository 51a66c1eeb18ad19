"""The GraphQL documents of account recovery and email (contract section 11), and the
steps the tests take with them: ask for a mail, wait for it, read its token."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import httpx
from starlette.applications import Starlette

from tests.helpers.graphql import GQLResponse, gql
from tests.helpers.smtp import Mailbox, token_in

REQUEST_VERIFICATION = "mutation { requestEmailVerification }"
VERIFY = "mutation($t: String!) { verifyEmail(token: $t) }"
REQUEST_RESET = "mutation($e: String!) { requestPasswordReset(email: $e) }"
RESET = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }"
REQUEST_CHANGE = (
    "mutation($e: String!, $p: String!) { requestEmailChange(newEmail: $e, currentPassword: $p) }"
)
CONFIRM_CHANGE = "mutation($t: String!) { confirmEmailChange(token: $t) }"
DELETE = "mutation($p: String!) { deleteAccount(currentPassword: $p) }"
VERIFIED_ME = "query { me { id email emailVerified } }"

# The public root fields of section 11 (a mailed link, or a forgotten password, has no credential).
ACCOUNT_MAIL_PUBLIC = frozenset(
    {"verifyEmail", "requestPasswordReset", "resetPassword", "confirmEmailChange"}
)

VERIFY_PATH = "/verify-email"
RESET_PATH = "/reset-password"
CHANGE_PATH = "/confirm-email-change"


async def settle(app: Starlette) -> None:
    """Wait until the app's outbox has worked every job submitted so far."""
    await app.state.backend.outbox.idle()


async def request_reset(http: httpx.AsyncClient, email: str, **kwargs: Any) -> GQLResponse:
    return await gql(http, REQUEST_RESET, {"e": email}, cookies=False, **kwargs)


def _links_to(message: EmailMessage, path: str) -> bool:
    try:
        token_in(message, path)
    except AssertionError:
        return False
    return True


async def reset_token(app: Starlette, http: httpx.AsyncClient, mailbox: Mailbox, email: str) -> str:
    """Ask for a reset of `email` and read the token from the mail that arrives."""
    before = len([m for m in mailbox.to(email) if _links_to(m, RESET_PATH)])
    result = await request_reset(http, email)
    assert result.data == {"requestPasswordReset": True}, result.body
    await settle(app)
    return await mailed_token_after(mailbox, email, RESET_PATH, before)


async def mailed_token_after(mailbox: Mailbox, address: str, path: str, before: int) -> str:
    """The token of the first mail to `address` linking to `path` after `before` such mails."""
    import asyncio
    import time

    deadline = time.monotonic() + 15
    while True:
        linking = [m for m in mailbox.to(address) if _links_to(m, path)]
        if len(linking) > before:
            return token_in(linking[before], path)
        assert time.monotonic() < deadline, f"no new {path} mail to {address}"
        await asyncio.sleep(0.02)


async def verification_token(mailbox: Mailbox, address: str, before: int = 0) -> str:
    """The token of the verification mail number `before` + 1 to `address`."""
    return await mailed_token_after(mailbox, address, VERIFY_PATH, before)
