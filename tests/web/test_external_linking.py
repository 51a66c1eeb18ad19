"""Linking a provider to an existing account, and the life of linked identities, against the
real OpenID provider: an account with the provider's email is never joined by a sign-in,
its owner links the provider (`linkExternalIdentity`) and signs in with it from then on;
links are EXTERNAL credentials (listed, revocable, ended by deactivation and logout
everywhere, except the link an account was made with); accounts without a password prove
themselves by a recent provider sign-in; deleteAccount erases the links."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
import time_machine

from core.settings import Settings
from models import Credential, CredentialKind, ExternalIdentity, ExternalLoginFlow, User
from tests.helpers import STRONG_PASSWORD, cookie_login, gql, login_variables, make_persona, oidc_fixtures
from tests.helpers.federation import (
    CREDENTIALS,
    PROVIDER,
    Browser,
    error_of,
    federated_settings,
)
from tests.helpers.graphql import LOGIN
from tests.helpers.oidc_provider import OpenIDProvider, RegisteredClient

# The shared fixtures against the real provider (tests/helpers/oidc_fixtures.py).
browser, idp_client = oidc_fixtures.browser, oidc_fixtures.idp_client

APP = "http://app.example"
REVOKE = "mutation($id: ID!) { revokeCredential(id: $id) }"
CHANGE = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }"
DELETE = "mutation($c: String!) { deleteAccount(currentPassword: $c) }"


@pytest.fixture(scope="module")
def idp() -> Iterator[OpenIDProvider]:
    accounts = {
        # The same address as the local account `alice` (make_persona: alice@example.com).
        "ext-alice": {"email": "alice@example.com", "email_verified": True, "preferred_username": "alice"},
        "ext-bob": {"email": "bob@example.com", "email_verified": True, "preferred_username": "bob"},
        "ext-new": {
            "email": "newcomer@example.com",
            "email_verified": True,
            "preferred_username": "newcomer",
        },
    }
    with OpenIDProvider(accounts=accounts) as running:
        yield running


@pytest.fixture
def settings(idp: OpenIDProvider, idp_client: RegisteredClient) -> Settings:
    return federated_settings(idp, idp_client, allowed_origins=(APP,))


async def link(
    browser: Browser, login_hint: str, redirect_to: str | None = f"{APP}/linked"
) -> httpx.Response:
    begun = await browser.link(redirect_to=redirect_to)
    assert not begun.errors, begun.body
    landed = await browser.at_provider(begun.data["linkExternalIdentity"]["url"], login_hint)
    return await browser.callback(landed)


async def external_credentials(http: httpx.AsyncClient) -> list[dict]:
    listed = await gql(http, CREDENTIALS)
    return [c for c in listed.data["myCredentials"] if c["kind"] == "EXTERNAL"]


async def test_an_account_with_the_providers_email_is_never_joined_by_a_sign_in(
    browser: Browser, http: httpx.AsyncClient
):
    alice = await make_persona(http, "alice")
    response = await browser.sign_in(login_hint="ext-alice", redirect_to=f"{APP}/back")
    assert response.status_code == 303
    assert error_of(response) == ("account_link_required", "email_in_use")
    assert "session=" not in response.headers.get("set-cookie", "")
    assert await ExternalIdentity.all().count() == 0 and await User.all().count() == 1
    assert (await gql(http, "{ me { id } }")).data["me"] is None
    assert (await User.get(id=alice.id)).password_hash != ""


async def test_the_owner_links_the_provider_then_signs_in_with_it(browser: Browser, http: httpx.AsyncClient):
    alice = await make_persona(http, "alice")
    await cookie_login(http, "alice")
    response = await link(browser, "ext-alice")
    assert response.status_code == 303 and response.headers["location"] == f"{APP}/linked"
    # Linking signs nobody in anew: the session stays the one that asked.
    assert "session=" not in response.headers.get("set-cookie", "")
    [linked] = await external_credentials(http)
    assert linked["name"] == PROVIDER and linked["expiresAt"] is None
    row = await ExternalIdentity.get(user_id=alice.id)
    assert row.subject == "ext-alice" and not row.created_account and row.email == "alice@example.com"

    http.cookies.clear()
    signed = await browser.sign_in(login_hint="ext-alice")
    assert signed.status_code == 200
    assert (await browser.me())["id"] == alice.id
    # Linking again is no error and adds nothing.
    again = await link(browser, "ext-alice")
    assert again.status_code == 303 and "error" not in again.headers["location"]
    assert len(await external_credentials(http)) == 1


async def test_linking_needs_a_fresh_sign_in_and_reauthenticate_renews_it(
    browser: Browser, http: httpx.AsyncClient
):
    """A session left signed in (or stolen) cannot add a provider as a way into the account."""
    alice = await make_persona(http, "alice")
    await cookie_login(http, "alice")
    # Only Gatehouse's clock travels: the provider (node) keeps real time, so the flow
    # itself runs after the travel, on the credential renewed during it.
    with time_machine.travel(datetime.now().astimezone() + timedelta(minutes=11), tick=True):
        stale = await browser.link(redirect_to=f"{APP}/linked")
        assert stale.codes == ["INSUFFICIENT_AUTH"], stale.body
        assert stale.errors[0]["extensions"]["maxAge"] == 600
        assert await ExternalLoginFlow.all().count() == 0  # nothing was begun
        renew = "mutation($p: String!) { reauthenticate(password: $p) }"
        renewed = await gql(http, renew, {"p": STRONG_PASSWORD})
        assert renewed.data == {"reauthenticate": True}, renewed.body
    finished = await link(browser, "ext-alice")
    assert finished.status_code == 303 and finished.headers["location"] == f"{APP}/linked"
    assert (await ExternalIdentity.get(user_id=alice.id)).subject == "ext-alice"


async def test_an_identity_linked_to_someone_else_is_not_moved(browser: Browser, http: httpx.AsyncClient):
    await make_persona(http, "alice")
    await cookie_login(http, "alice")
    assert (await link(browser, "ext-alice")).status_code == 303
    await make_persona(http, "bob")
    await cookie_login(http, "bob")
    response = await link(browser, "ext-alice")
    assert error_of(response) == ("identity_in_use", None)
    assert await ExternalIdentity.all().count() == 1


async def test_a_link_finishes_only_as_the_user_who_began_it(browser: Browser, http: httpx.AsyncClient):
    await make_persona(http, "alice")
    await make_persona(http, "bob")
    await cookie_login(http, "alice")
    begun = await browser.link(redirect_to=f"{APP}/linked")
    landed = await browser.at_provider(begun.data["linkExternalIdentity"]["url"], "ext-bob")
    await cookie_login(http, "bob")  # the same browser, signed in as someone else meanwhile
    response = await browser.callback(landed)
    assert error_of(response) == ("session_mismatch", None)
    assert await ExternalIdentity.all().count() == 0


async def test_linking_needs_a_signed_in_caller(browser: Browser):
    refused = await browser.link()
    assert refused.codes == ["UNAUTHENTICATED"]


async def test_a_revoked_link_signs_nobody_in_and_can_be_made_again(
    browser: Browser, http: httpx.AsyncClient
):
    alice = await make_persona(http, "alice")
    await cookie_login(http, "alice")
    await link(browser, "ext-alice")
    [linked] = await external_credentials(http)
    revoked = await gql(http, REVOKE, {"id": linked["id"]})
    assert revoked.data == {"revokeCredential": True}, revoked.body
    assert await external_credentials(http) == []

    saved = httpx.Cookies(http.cookies)
    http.cookies.clear()
    refused = await browser.sign_in(login_hint="ext-alice", redirect_to=f"{APP}/x")
    assert error_of(refused) == ("account_link_required", "email_in_use")
    http.cookies = saved
    assert (await link(browser, "ext-alice")).status_code == 303
    assert len(await external_credentials(http)) == 1
    assert await ExternalIdentity.filter(user_id=alice.id).count() == 1


async def test_the_only_way_into_an_account_without_a_password_cannot_be_unlinked(
    browser: Browser, http: httpx.AsyncClient
):
    assert (await browser.sign_in(login_hint="ext-new")).status_code == 200
    [origin] = await external_credentials(http)
    refused = await gql(http, REVOKE, {"id": origin["id"]})
    assert (
        refused.codes == ["BAD_USER_INPUT"] and "only way" in refused.errors[0]["extensions"]["fields"]["id"]
    )
    # A second provider account linked: now either may go.
    assert (await link(browser, "ext-bob")).status_code == 303
    assert (await gql(http, REVOKE, {"id": origin["id"]})).data == {"revokeCredential": True}


async def test_logout_everywhere_ends_added_links_and_keeps_the_one_the_account_was_made_with(
    browser: Browser, http: httpx.AsyncClient
):
    assert (await browser.sign_in(login_hint="ext-new")).status_code == 200
    user_id = (await browser.me())["id"]
    await link(browser, "ext-bob")
    assert len(await external_credentials(http)) == 2
    assert (await gql(http, "mutation { logout(everywhere: true) }")).data == {"logout": True}
    assert (await gql(http, "{ me { id } }")).data["me"] is None

    live = await Credential.filter(user_id=user_id, kind=CredentialKind.EXTERNAL, revoked_at__isnull=True)
    [kept] = live
    assert (await ExternalIdentity.get(credential_id=kept.id)).subject == "ext-new"
    assert (await ExternalIdentity.get(credential_id=kept.id)).tokens_not_before is not None
    # The account's own provider still signs it in; the added one no longer does.
    assert (await browser.sign_in(login_hint="ext-new")).status_code == 200
    assert (await browser.me())["id"] == user_id
    http.cookies.clear()
    other = await browser.sign_in(login_hint="ext-bob")
    assert other.status_code == 200 and (await browser.me())["id"] != user_id  # a new account


async def test_deactivation_ends_provider_sessions_and_refuses_provider_sign_in(
    browser: Browser, http: httpx.AsyncClient, admin
):
    assert (await browser.sign_in(login_hint="ext-new")).status_code == 200
    user_id = (await browser.me())["id"]
    provider_session = httpx.Cookies(http.cookies)
    admin_login = await gql(http, LOGIN, login_variables(admin.username, admin.password), cookies=False)
    admin_headers = {"Authorization": f"Bearer {admin_login.data['login']['accessToken']}"}
    off = await gql(
        http,
        "mutation($u: ID!) { setUserActive(userId: $u, active: false) { id } }",
        {"u": user_id},
        headers=admin_headers,
        cookies=False,
    )
    assert not off.errors, off.body
    http.cookies = provider_session
    assert (await gql(http, "{ me { id } }")).data["me"] is None  # the session ended at once
    refused = await browser.sign_in(login_hint="ext-new", redirect_to=f"{APP}/x")
    assert error_of(refused) == ("account_disabled", None)

    on = await gql(
        http,
        "mutation($u: ID!) { setUserActive(userId: $u, active: true) { id } }",
        {"u": user_id},
        headers=admin_headers,
        cookies=False,
    )
    assert not on.errors, on.body
    assert (await browser.sign_in(login_hint="ext-new")).status_code == 200
    assert (await browser.me())["id"] == user_id


async def test_an_account_without_a_password_sets_one_after_a_recent_provider_sign_in(
    browser: Browser, http: httpx.AsyncClient
):
    assert (await browser.sign_in(login_hint="ext-new")).status_code == 200
    with time_machine.travel(datetime.now().astimezone() + timedelta(minutes=11), tick=True):
        stale = await gql(http, CHANGE, {"c": "", "n": STRONG_PASSWORD})
    assert stale.codes == ["BAD_USER_INPUT"]
    assert "sign in through your provider again" in stale.errors[0]["extensions"]["fields"]["currentPassword"]

    fresh = await gql(http, CHANGE, {"c": "", "n": STRONG_PASSWORD})
    assert fresh.data == {"changePassword": True}, fresh.body
    signed = await gql(http, LOGIN, login_variables("newcomer", STRONG_PASSWORD), cookies=False)
    assert not signed.errors, signed.body
    # With a password now, the current one is asked for like anyone's.
    again = await gql(http, CHANGE, {"c": "", "n": "an entirely different phrase"})
    assert again.codes == ["BAD_USER_INPUT"]


async def test_a_password_account_is_asked_its_password_even_after_a_provider_sign_in(
    browser: Browser, http: httpx.AsyncClient
):
    await make_persona(http, "alice")
    await cookie_login(http, "alice")
    await link(browser, "ext-alice")
    http.cookies.clear()
    await browser.sign_in(login_hint="ext-alice")
    refused = await gql(http, CHANGE, {"c": "", "n": "an entirely different phrase"})
    assert refused.codes == ["BAD_USER_INPUT"]
    assert refused.errors[0]["extensions"]["fields"]["currentPassword"] == "The current password is wrong."


async def test_deleting_an_account_without_a_password_erases_its_links(
    browser: Browser, http: httpx.AsyncClient
):
    assert (await browser.sign_in(login_hint="ext-new")).status_code == 200
    user_id = (await browser.me())["id"]
    deleted = await gql(http, DELETE, {"c": ""})
    assert deleted.data == {"deleteAccount": True}, deleted.body
    assert await ExternalIdentity.filter(user_id=user_id).count() == 0
    assert await User.filter(id=user_id).count() == 0
    # The provider account is free again: its next sign-in makes a new account.
    assert (await browser.sign_in(login_hint="ext-new")).status_code == 200
    assert (await browser.me())["id"] != user_id


async def test_deleting_an_account_without_a_password_needs_a_recent_provider_sign_in(
    browser: Browser, http: httpx.AsyncClient
):
    assert (await browser.sign_in(login_hint="ext-new")).status_code == 200
    with time_machine.travel(datetime.now().astimezone() + timedelta(minutes=11), tick=True):
        refused = await gql(http, DELETE, {"c": "anything"})
    assert refused.codes == ["BAD_USER_INPUT"]
    assert await User.all().count() == 1


async def test_an_email_change_of_an_account_without_a_password_needs_a_recent_provider_sign_in(
    browser: Browser, http: httpx.AsyncClient
):
    assert (await browser.sign_in(login_hint="ext-new")).status_code == 200
    ask = 'mutation { requestEmailChange(newEmail: "moved@example.com", currentPassword: "") }'
    with time_machine.travel(datetime.now().astimezone() + timedelta(minutes=11), tick=True):
        stale = await gql(http, ask)
    assert stale.codes == ["BAD_USER_INPUT"] and "currentPassword" in stale.errors[0]["extensions"]["fields"]
    fresh = await gql(http, ask)
    assert fresh.data == {"requestEmailChange": True}, fresh.body
