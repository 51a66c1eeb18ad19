"""A revoked credential must not be served from the identity cache, however warm it is."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.settings import Settings, parse_mail_url
from tests.helpers import (
    ME,
    OTHER_PASSWORD,
    STRONG_PASSWORD,
    bearer,
    bearer_login,
    gql,
    make_persona,
    make_settings,
)
from tests.helpers.account_mail import (
    CHANGE_PATH,
    CONFIRM_CHANGE,
    DELETE,
    REQUEST_CHANGE,
    RESET,
    VERIFIED_ME,
    VERIFY,
    mailed_token_after,
    reset_token,
    settle,
    verification_token,
)
from tests.helpers.smtp import Mailbox


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


@pytest.fixture
def settings(mailbox: Mailbox) -> Settings:
    # Mails really sent (section 11's writes need their tokens); `verifiedOnly` is @isVerified.
    return make_settings(
        mail_server=parse_mail_url(mailbox.url()), schema_modules=("tests.helpers.modules.verified",)
    )


async def _warm(http, token: str) -> None:
    for _ in range(4):  # owner learnt, then read under a generation, then served from memory
        assert (await gql(http, ME, headers=bearer(token), cookies=False)).status == 200


async def test_a_revoked_token_is_refused_right_after_the_cache_was_warmed(http):
    await make_persona(http, "mallory")
    tokens = await bearer_login(http, "mallory")
    await _warm(http, tokens["accessToken"])
    logout = await gql(http, "mutation { logout }", headers=bearer(tokens["accessToken"]), cookies=False)
    assert logout.data == {"logout": True}
    assert (await gql(http, ME, headers=bearer(tokens["accessToken"]), cookies=False)).status == 401


async def test_a_role_taken_away_is_seen_by_the_next_request_despite_the_cache(http, admin):
    boss = await bearer_login(http, admin.username)
    target = await make_persona(http, "trent")
    tokens = await bearer_login(http, "trent")
    grant = 'mutation($id: ID!) { grantRole(userId: $id, role: "admin") { roles } }'
    await gql(http, grant, {"id": target.id}, headers=bearer(boss["accessToken"]), cookies=False)
    users = "{ users(first: 1) { totalCount } }"
    for _ in range(3):
        assert (await gql(http, users, headers=bearer(tokens["accessToken"]), cookies=False)).status == 200
    revoke = 'mutation($id: ID!) { revokeRole(userId: $id, role: "admin") { roles } }'
    await gql(http, revoke, {"id": target.id}, headers=bearer(boss["accessToken"]), cookies=False)
    assert (await gql(http, users, headers=bearer(tokens["accessToken"]), cookies=False)).status == 403


# -- section 11: every write that changes what a credential may do ----------------------------


async def test_a_verified_address_is_seen_by_the_next_request_despite_the_cache(app, http, mailbox):
    user = await make_persona(http, "vera")
    tokens = await bearer_login(http, "vera")
    for _ in range(4):  # warm: the refusal is what the cache holds
        assert (
            await gql(http, "{ verifiedOnly }", headers=bearer(tokens["accessToken"]), cookies=False)
        ).status == 403
    await settle(app)
    token = await verification_token(mailbox, user.email)
    assert (await gql(http, VERIFY, {"t": token}, cookies=False)).data == {"verifyEmail": True}
    after = await gql(http, "{ verifiedOnly }", headers=bearer(tokens["accessToken"]), cookies=False)
    assert after.data == {"verifiedOnly": "welcome"}, after.body


async def test_a_reset_password_ends_a_credential_served_from_the_cache(app, http, mailbox):
    user = await make_persona(http, "rita")
    tokens = await bearer_login(http, "rita")
    await _warm(http, tokens["accessToken"])
    token = await reset_token(app, http, mailbox, user.email)
    assert (await gql(http, RESET, {"t": token, "p": OTHER_PASSWORD}, cookies=False)).data == {
        "resetPassword": True
    }
    assert (await gql(http, ME, headers=bearer(tokens["accessToken"]), cookies=False)).status == 401


async def test_a_deleted_account_ends_a_credential_served_from_the_cache(http):
    await make_persona(http, "dana")
    tokens = await bearer_login(http, "dana")
    actor = await bearer_login(http, "dana")
    await _warm(http, tokens["accessToken"])
    deleted = await gql(
        http, DELETE, {"p": STRONG_PASSWORD}, headers=bearer(actor["accessToken"]), cookies=False
    )
    assert deleted.data == {"deleteAccount": True}, deleted.body
    assert (await gql(http, ME, headers=bearer(tokens["accessToken"]), cookies=False)).status == 401


async def test_a_new_email_is_seen_by_the_next_request_despite_the_cache(app, http, mailbox):
    await make_persona(http, "emil")
    tokens = await bearer_login(http, "emil")
    headers = bearer(tokens["accessToken"])
    await _warm(http, tokens["accessToken"])
    asked = await gql(
        http,
        REQUEST_CHANGE,
        {"e": "emil.new@example.org", "p": STRONG_PASSWORD},
        headers=headers,
        cookies=False,
    )
    assert asked.data == {"requestEmailChange": True}, asked.body
    await settle(app)
    token = await mailed_token_after(mailbox, "emil.new@example.org", CHANGE_PATH, 0)
    assert (await gql(http, CONFIRM_CHANGE, {"t": token}, cookies=False)).data == {"confirmEmailChange": True}
    me = (await gql(http, VERIFIED_ME, headers=headers, cookies=False)).data["me"]
    assert me == {"id": me["id"], "email": "emil.new@example.org", "emailVerified": True}
