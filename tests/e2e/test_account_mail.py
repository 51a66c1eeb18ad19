"""Account recovery and email (contract section 11) through the real app, with the mails
really sent over SMTP to aiosmtpd and the tokens read out of the delivered mails:
verification, reset, email change, deletion, the token rules (single use, expiry,
voided by a newer one, unknown), the limits and REQUIRE_VERIFIED_EMAIL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine

from core.clock import utcnow
from core.settings import Settings, parse_mail_url
from tests.helpers import (
    LOGIN,
    ME,
    OTHER_PASSWORD,
    STRONG_PASSWORD,
    Persona,
    basic,
    bearer,
    bearer_login,
    gql,
    jwt_headers,
    login_variables,
    make_persona,
    make_settings,
    register,
)
from tests.helpers.account_mail import (
    CHANGE_PATH,
    CONFIRM_CHANGE,
    DELETE,
    REQUEST_CHANGE,
    REQUEST_VERIFICATION,
    RESET,
    RESET_PATH,
    VERIFIED_ME,
    VERIFY,
    VERIFY_PATH,
    mailed_token_after,
    request_reset,
    reset_token,
    settle,
    verification_token,
)
from tests.helpers.smtp import Mailbox, html_of, link_in, text_of

PUBLIC = "https://gatehouse.test"
VERIFIED_ONLY = "query { verifiedOnly }"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


@pytest.fixture
def settings(mailbox: Mailbox) -> Settings:
    return make_settings(
        mail_server=parse_mail_url(mailbox.url()),
        public_url=PUBLIC,
        schema_modules=("tests.helpers.modules.verified",),
    )


# -- verification ---------------------------------------------------------------------------


async def test_register_mails_a_verification_link_that_verifies(app, http, mailbox):
    alice = await make_persona(http, "alice")
    headers = jwt_headers(await bearer_login(http, "alice"))
    me = await gql(http, VERIFIED_ME, headers=headers, cookies=False)
    assert me.data["me"]["emailVerified"] is False
    refused = await gql(http, VERIFIED_ONLY, headers=headers, cookies=False)
    assert refused.codes == ["FORBIDDEN"] and refused.status == 403

    await settle(app)
    [message] = await mailbox.wait_for(alice.email)
    assert message["Subject"] == "Verify your email address"
    link = link_in(message, VERIFY_PATH)
    assert link.startswith(f"{PUBLIC}{VERIFY_PATH}?token=")
    assert link in html_of(message) and "alice" in text_of(message)

    token = link.rpartition("token=")[2]
    assert (await gql(http, VERIFY, {"t": token}, cookies=False)).data == {"verifyEmail": True}
    me = await gql(http, VERIFIED_ME, headers=headers, cookies=False)
    assert me.data["me"]["emailVerified"] is True
    # @isVerified lets the same credential through on its very next request.
    allowed = await gql(http, VERIFIED_ONLY, headers=headers, cookies=False)
    assert allowed.data == {"verifiedOnly": "welcome"}, allowed.body

    again = await gql(http, VERIFY, {"t": token}, cookies=False)
    assert again.codes == ["BAD_USER_INPUT"] and "token" in again.errors[0]["extensions"]["fields"]


async def test_request_email_verification_sends_a_new_link_and_voids_the_old(app, http, mailbox):
    alice = await make_persona(http, "alice")
    await settle(app)
    first = await verification_token(mailbox, alice.email)
    headers = jwt_headers(await bearer_login(http, "alice"))
    result = await gql(http, REQUEST_VERIFICATION, headers=headers, cookies=False)
    assert result.data == {"requestEmailVerification": True}, result.body
    await settle(app)
    second = await verification_token(mailbox, alice.email, before=1)
    assert second != first

    stale = await gql(http, VERIFY, {"t": first}, cookies=False)
    assert stale.codes == ["BAD_USER_INPUT"]
    assert (await gql(http, VERIFY, {"t": second}, cookies=False)).data == {"verifyEmail": True}
    # Verified: asking again mails nothing.
    await gql(http, REQUEST_VERIFICATION, headers=headers, cookies=False)
    await settle(app)
    assert len(mailbox.to(alice.email)) == 2


async def test_request_email_verification_needs_a_user(http):
    result = await gql(http, REQUEST_VERIFICATION, cookies=False)
    assert result.status == 401 and result.codes == ["UNAUTHENTICATED"]


async def test_a_verification_link_expires_after_24_hours(app, http, mailbox):
    alice = await make_persona(http, "alice")
    await settle(app)
    token = await verification_token(mailbox, alice.email)
    with time_machine.travel(utcnow() + timedelta(hours=24, seconds=5), tick=False):
        expired = await gql(http, VERIFY, {"t": token}, cookies=False)
    assert expired.codes == ["BAD_USER_INPUT"], expired.body
    assert set(expired.errors[0]["extensions"]["fields"]) == {"token"}


@pytest.mark.parametrize(
    "token",
    ["", "nonsense", "A" * 43, "A" * 42, "A" * 44, "x" * 5000, "../../etc/passwd", "é" * 43],
)
async def test_unknown_and_malformed_tokens_are_bad_user_input_on_token(http, token):
    for mutation, variables in (
        (VERIFY, {"t": token}),
        (RESET, {"t": token, "p": OTHER_PASSWORD}),
        (CONFIRM_CHANGE, {"t": token}),
    ):
        result = await gql(http, mutation, variables, cookies=False)
        assert result.status == 200, result.body
        assert result.codes == ["BAD_USER_INPUT"], result.body
        assert set(result.errors[0]["extensions"]["fields"]) == {"token"}


async def test_a_token_serves_its_own_purpose_only(app, http, mailbox):
    alice = await make_persona(http, "alice")
    await settle(app)
    token = await verification_token(mailbox, alice.email)
    wrong = await gql(http, RESET, {"t": token, "p": OTHER_PASSWORD}, cookies=False)
    assert wrong.codes == ["BAD_USER_INPUT"]
    assert (await gql(http, CONFIRM_CHANGE, {"t": token}, cookies=False)).codes == ["BAD_USER_INPUT"]
    assert (await gql(http, VERIFY, {"t": token}, cookies=False)).data == {"verifyEmail": True}


# -- password reset -----------------------------------------------------------------------------


async def test_reset_sets_the_new_password_and_ends_every_credential(app, http, mailbox, alice: Persona):
    held = jwt_headers(await bearer_login(http, "alice"))
    token = await reset_token(app, http, mailbox, alice.email)
    [*_, message] = mailbox.to(alice.email)
    assert message["Subject"] == "Reset your password"
    assert link_in(message, RESET_PATH).startswith(f"{PUBLIC}{RESET_PATH}?token=")

    result = await gql(http, RESET, {"t": token, "p": OTHER_PASSWORD}, cookies=False)
    assert result.data == {"resetPassword": True}, result.body

    assert (await gql(http, ME, headers=held, cookies=False)).status == 401
    old = await gql(http, LOGIN, login_variables("alice", STRONG_PASSWORD), cookies=False)
    assert old.codes == ["UNAUTHENTICATED"]
    assert (await bearer_login(http, "alice", OTHER_PASSWORD))["user"]["id"] == alice.id
    # The link is spent.
    reused = await gql(http, RESET, {"t": token, "p": "another fine passphrase"}, cookies=False)
    assert reused.codes == ["BAD_USER_INPUT"]
    # The mailbox was proved: the address counts as verified.
    headers = jwt_headers(await bearer_login(http, "alice", OTHER_PASSWORD))
    assert (await gql(http, VERIFIED_ME, headers=headers, cookies=False)).data["me"]["emailVerified"] is True


async def test_a_refused_new_password_leaves_the_link_usable(app, http, mailbox, alice: Persona):
    token = await reset_token(app, http, mailbox, alice.email)
    for weak in ("short", "password123", "alice@example.com", "x" * 300):
        result = await gql(http, RESET, {"t": token, "p": weak}, cookies=False)
        assert result.codes == ["BAD_USER_INPUT"], (weak, result.body)
        assert set(result.errors[0]["extensions"]["fields"]) == {"newPassword"}
    assert (await gql(http, RESET, {"t": token, "p": OTHER_PASSWORD}, cookies=False)).data == {
        "resetPassword": True
    }


async def test_a_newer_reset_link_voids_the_older(app, http, mailbox, alice: Persona):
    first = await reset_token(app, http, mailbox, alice.email)
    second = await reset_token(app, http, mailbox, alice.email)
    assert first != second
    assert (await gql(http, RESET, {"t": first, "p": OTHER_PASSWORD}, cookies=False)).codes == [
        "BAD_USER_INPUT"
    ]
    assert (await gql(http, RESET, {"t": second, "p": OTHER_PASSWORD}, cookies=False)).data == {
        "resetPassword": True
    }


async def test_a_reset_link_expires_after_30_minutes(app, http, mailbox, alice: Persona):
    token = await reset_token(app, http, mailbox, alice.email)
    with time_machine.travel(utcnow() + timedelta(minutes=30, seconds=5), tick=False):
        expired = await gql(http, RESET, {"t": token, "p": OTHER_PASSWORD}, cookies=False)
    assert expired.codes == ["BAD_USER_INPUT"]
    assert (await bearer_login(http, "alice"))["user"]["id"] == alice.id  # unchanged


async def test_reset_of_an_unknown_address_answers_true_and_mails_nothing(app, http, mailbox, alice):
    result = await request_reset(http, "nobody@example.com")
    assert result.data == {"requestPasswordReset": True}, result.body
    await settle(app)
    assert mailbox.to("nobody@example.com") == []
    # Case and spelling of a known address do not matter.
    token = await reset_token(app, http, mailbox, "ALICE@Example.COM")
    assert token


async def test_reset_of_a_disabled_account_mails_nothing(app, http, mailbox, inactive_user: Persona):
    assert (await request_reset(http, inactive_user.email)).data == {"requestPasswordReset": True}
    await settle(app)
    assert [m for m in mailbox.to(inactive_user.email) if "Reset" in m["Subject"]] == []


async def test_reset_of_an_invalid_address_is_bad_user_input(http):
    result = await request_reset(http, "not an address")
    assert result.codes == ["BAD_USER_INPUT"]
    assert set(result.errors[0]["extensions"]["fields"]) == {"email"}


async def test_reset_requests_are_audited_without_the_address(app, http, mailbox, alice, caplog):
    with caplog.at_level(logging.INFO, logger="gatehouse.audit"):
        token = await reset_token(app, http, mailbox, alice.email)
        await request_reset(http, "nobody@example.com")
        await settle(app)
        await gql(http, RESET, {"t": token, "p": OTHER_PASSWORD}, cookies=False)
    events = [r.audit["event"] for r in caplog.records if hasattr(r, "audit")]
    assert events.count("password_reset_request") == 2 and "password_reset" in events
    assert not any("example.com" in r.getMessage() for r in caplog.records if hasattr(r, "audit"))


# -- limits -------------------------------------------------------------------------------------


@pytest.fixture
def limited_settings(mailbox: Mailbox) -> Settings:
    return make_settings(
        mail_server=parse_mail_url(mailbox.url()),
        public_url=PUBLIC,
        mail_limit_per_address="3/hour",
        mail_limit_per_ip="8/hour",
    )


async def test_the_per_address_limit_counts_known_and_unknown_alike(
    mailbox, clean_backends, limited_settings
):
    from tests.helpers import app_client

    async with app_client(limited_settings) as http:
        await make_persona(http, "alice")
        for address in ("alice@example.com", "nobody@example.com"):
            answers = [await request_reset(http, address) for _ in range(4)]
            assert [a.data for a in answers[:3]] == [{"requestPasswordReset": True}] * 3
            over = answers[3]
            assert over.status == 429 and over.codes == ["RATE_LIMITED"], over.body
            assert over.errors[0]["extensions"]["retryAfter"] > 0
            assert int(over.headers["retry-after"]) > 0


async def test_the_per_ip_limit_holds_across_addresses(mailbox, clean_backends, limited_settings):
    from tests.helpers import app_client

    async with app_client(limited_settings) as http:
        answers = [await request_reset(http, f"someone{n}@example.com") for n in range(9)]
        assert all(a.data == {"requestPasswordReset": True} for a in answers[:8])
        assert answers[8].codes == ["RATE_LIMITED"]
    async with app_client(limited_settings, client=("10.9.9.9", 1)) as other:
        # Another client is not held back by the first one's requests.
        assert (await request_reset(other, "someone@example.com")).data == {"requestPasswordReset": True}


async def test_verification_requests_are_limited_per_address(mailbox, clean_backends, limited_settings):
    from tests.helpers import app_client

    async with app_client(limited_settings) as http:
        await make_persona(http, "alice")
        headers = jwt_headers(await bearer_login(http, "alice"))
        results = [await gql(http, REQUEST_VERIFICATION, headers=headers, cookies=False) for _ in range(4)]
        assert [r.codes for r in results] == [[], [], [], ["RATE_LIMITED"]]


async def test_aliases_do_not_multiply_a_password_check(http, alice):
    headers = jwt_headers(await bearer_login(http, "alice"))
    many = 'mutation { a: deleteAccount(currentPassword: "x") b: deleteAccount(currentPassword: "y") }'
    result = await gql(http, many, headers=headers, cookies=False)
    assert result.codes == ["GRAPHQL_VALIDATION_FAILED"], result.body
    assert "at most one of" in result.errors[0]["message"]
    assert result.data is None
    assert (await gql(http, ME, headers=headers, cookies=False)).data["me"]["id"] == alice.id


# -- email change -------------------------------------------------------------------------------


async def test_email_change_moves_the_account_and_tells_the_old_address(app, http, mailbox, alice: Persona):
    headers = jwt_headers(await bearer_login(http, "alice"))
    result = await gql(
        http,
        REQUEST_CHANGE,
        {"e": "Alice.New@Example.org", "p": STRONG_PASSWORD},
        headers=headers,
        cookies=False,
    )
    assert result.data == {"requestEmailChange": True}, result.body
    await settle(app)
    token = await mailed_token_after(mailbox, "alice.new@example.org", CHANGE_PATH, 0)
    # Nothing changes before the link is used.
    assert (await gql(http, ME, headers=headers, cookies=False)).data["me"]["email"] == alice.email

    assert (await gql(http, CONFIRM_CHANGE, {"t": token}, cookies=False)).data == {"confirmEmailChange": True}
    me = (await gql(http, VERIFIED_ME, headers=headers, cookies=False)).data["me"]
    assert me["email"] == "Alice.New@example.org" and me["emailVerified"] is True
    await settle(app)
    [notice] = [m for m in mailbox.to(alice.email) if "changed" in m["Subject"]]
    assert "Alice.New@example.org" in text_of(notice)
    # The new address signs in; the old one no longer does.
    assert (await bearer_login(http, "alice.new@example.org"))["user"]["id"] == alice.id
    old = await gql(http, LOGIN, login_variables(alice.email, STRONG_PASSWORD), cookies=False)
    assert old.codes == ["UNAUTHENTICATED"]
    # And the old address can be registered again.
    assert (await register(http, "alice2", transport="BEARER")).status == 200
    assert (await gql(http, CONFIRM_CHANGE, {"t": token}, cookies=False)).codes == ["BAD_USER_INPUT"]


async def test_email_change_needs_the_current_password_and_a_free_address(http, alice, bob):
    headers = jwt_headers(await bearer_login(http, "alice"))
    for variables, field in (
        ({"e": "new@example.org", "p": "wrong password"}, "currentPassword"),
        ({"e": "not an address", "p": STRONG_PASSWORD}, "newEmail"),
        ({"e": bob.email, "p": STRONG_PASSWORD}, "newEmail"),
        ({"e": alice.email.upper(), "p": STRONG_PASSWORD}, "newEmail"),
    ):
        result = await gql(http, REQUEST_CHANGE, variables, headers=headers, cookies=False)
        assert result.codes == ["BAD_USER_INPUT"], (variables, result.body)
        assert set(result.errors[0]["extensions"]["fields"]) == {field}
    anonymous = await gql(http, REQUEST_CHANGE, {"e": "n@example.org", "p": STRONG_PASSWORD}, cookies=False)
    assert anonymous.status == 401


async def test_an_address_taken_meanwhile_is_refused_at_confirmation(app, http, mailbox, alice):
    headers = jwt_headers(await bearer_login(http, "alice"))
    await gql(
        http, REQUEST_CHANGE, {"e": "carol@example.com", "p": STRONG_PASSWORD}, headers=headers, cookies=False
    )
    await settle(app)
    token = await mailed_token_after(mailbox, "carol@example.com", CHANGE_PATH, 0)
    await make_persona(http, "carol")  # registers carol@example.com
    result = await gql(http, CONFIRM_CHANGE, {"t": token}, cookies=False)
    assert result.codes == ["BAD_USER_INPUT"], result.body
    assert (await gql(http, ME, headers=headers, cookies=False)).data["me"]["email"] == alice.email


async def test_a_reset_voids_a_pending_email_change(app, http, mailbox, alice):
    """Whoever started a change with a stolen session cannot finish it after the owner's reset."""
    headers = jwt_headers(await bearer_login(http, "alice"))
    await gql(
        http,
        REQUEST_CHANGE,
        {"e": "mallory@evil.example.net", "p": STRONG_PASSWORD},
        headers=headers,
        cookies=False,
    )
    await settle(app)
    change = await mailed_token_after(mailbox, "mallory@evil.example.net", CHANGE_PATH, 0)
    reset = await reset_token(app, http, mailbox, alice.email)
    assert (await gql(http, RESET, {"t": reset, "p": OTHER_PASSWORD}, cookies=False)).data == {
        "resetPassword": True
    }
    assert (await gql(http, CONFIRM_CHANGE, {"t": change}, cookies=False)).codes == ["BAD_USER_INPUT"]


async def test_an_email_change_link_expires_after_an_hour(app, http, mailbox, alice):
    headers = jwt_headers(await bearer_login(http, "alice"))
    await gql(
        http, REQUEST_CHANGE, {"e": "later@example.org", "p": STRONG_PASSWORD}, headers=headers, cookies=False
    )
    await settle(app)
    token = await mailed_token_after(mailbox, "later@example.org", CHANGE_PATH, 0)
    with time_machine.travel(utcnow() + timedelta(hours=1, seconds=5), tick=False):
        assert (await gql(http, CONFIRM_CHANGE, {"t": token}, cookies=False)).codes == ["BAD_USER_INPUT"]


# -- leaving ------------------------------------------------------------------------------------


async def test_delete_account_ends_everything_and_frees_the_names(app, http, mailbox, alice, bob, caplog):
    held = jwt_headers(await bearer_login(http, "alice"))
    actor = jwt_headers(await bearer_login(http, "alice"))
    wrong = await gql(http, DELETE, {"p": "not my password"}, headers=actor, cookies=False)
    assert wrong.codes == ["BAD_USER_INPUT"] and set(wrong.errors[0]["extensions"]["fields"]) == {
        "currentPassword"
    }
    assert (await gql(http, ME, headers=held, cookies=False)).status == 200

    with caplog.at_level(logging.INFO, logger="gatehouse.audit"):
        result = await gql(http, DELETE, {"p": STRONG_PASSWORD}, headers=actor, cookies=False)
    assert result.data == {"deleteAccount": True}, result.body
    for headers in (held, actor, basic("alice", STRONG_PASSWORD)):
        assert (await gql(http, ME, headers=headers, cookies=False)).status == 401
    assert (await gql(http, LOGIN, login_variables("alice", STRONG_PASSWORD), cookies=False)).status == 401
    [event] = [r for r in caplog.records if getattr(r, "audit", {}).get("event") == "account_delete"]
    assert event.audit["user_id"] == alice.id and "example.com" not in event.getMessage()
    # No row is left with the personal data, and the names are free again.
    from models import AccountToken, User

    assert not await User.filter(id=alice.id).exists()
    assert not await AccountToken.filter(user_id=alice.id).exists()
    again = await register(http, "alice")
    assert again.status == 200 and again.data["register"]["user"]["id"] != alice.id
    assert (await gql(http, ME, headers=jwt_headers(await bearer_login(http, "bob")), cookies=False)).data[
        "me"
    ]["id"] == bob.id


async def test_delete_account_over_a_session_clears_the_cookie(http, alice):
    from tests.helpers import clears_cookie, cookie_login

    await cookie_login(http, "alice")
    result = await gql(http, DELETE, {"p": STRONG_PASSWORD})
    assert result.data == {"deleteAccount": True}, result.body
    assert clears_cookie(result)


async def test_delete_account_needs_a_user(http):
    assert (await gql(http, DELETE, {"p": STRONG_PASSWORD}, cookies=False)).status == 401


# -- REQUIRE_VERIFIED_EMAIL ---------------------------------------------------------------------


@pytest.fixture
def strict_settings(mailbox: Mailbox) -> Settings:
    return make_settings(
        mail_server=parse_mail_url(mailbox.url()), public_url=PUBLIC, require_verified_email=True
    )


async def test_require_verified_email_makes_sign_in_wait(mailbox, clean_backends, strict_settings):
    from tests.helpers import app_client

    async with app_client(strict_settings) as http:
        created = await register(http, "alice")
        assert created.status == 403 and created.codes == ["EMAIL_NOT_VERIFIED"], created.body
        assert "created" in created.errors[0]["message"]
        assert not created.headers.get_list("set-cookie")

        for transport in ("BEARER", "COOKIE"):
            refused = await gql(
                http, LOGIN, login_variables("alice", STRONG_PASSWORD, transport), cookies=False
            )
            assert refused.status == 403 and refused.codes == ["EMAIL_NOT_VERIFIED"], refused.body
            assert not refused.headers.get_list("set-cookie")
        # Nobody without the password learns that the account exists.
        wrong = await gql(http, LOGIN, login_variables("alice", "wrong password"), cookies=False)
        assert wrong.status == 401 and wrong.codes == ["UNAUTHENTICATED"]
        assert (await gql(http, ME, headers=basic("alice", "wrong password"), cookies=False)).status == 401
        basic_refused = await gql(http, ME, headers=basic("alice", STRONG_PASSWORD), cookies=False)
        assert basic_refused.status == 403 and basic_refused.codes == ["EMAIL_NOT_VERIFIED"]

        # Each refused sign-in mailed a fresh link (within the per-address limit).
        app = http._transport.app  # type: ignore[attr-defined]
        await settle(app)
        messages = await mailbox.wait_for("alice@example.com", 3)
        token = await mailed_token_after(mailbox, "alice@example.com", VERIFY_PATH, len(messages) - 1)
        assert (await gql(http, VERIFY, {"t": token}, cookies=False)).data == {"verifyEmail": True}

        signed = await bearer_login(http, "alice")
        assert (await gql(http, ME, headers=bearer(signed["accessToken"]), cookies=False)).status == 200
        assert (await gql(http, ME, headers=basic("alice", STRONG_PASSWORD), cookies=False)).status == 200
